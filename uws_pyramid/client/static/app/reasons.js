// Why a job waits, in words, from what its manager reports in jobInfo (pure functions).

/** SLURM's pending reasons (squeue %r) that people meet most, in words. */
const SLURM = {
  Resources: "waiting for free resources on the cluster",
  Priority: "jobs with a higher priority go first",
  Dependency: "waiting for a job it depends on",
  QOSMaxJobsPerUserLimit: "the user's limit of running jobs is reached",
  AssocMaxJobsLimit: "the account's limit of running jobs is reached",
  ReqNodeNotAvail: "the nodes it asks for are not available",
  PartitionDown: "the partition is down",
  BeginTime: "its start time has not come yet",
  JobHeldUser: "held by its user",
  JobHeldAdmin: "held by an administrator",
};

/**
 * Why a QUEUED job waits: a manager's own words (jobInfo "queue"), its reason and place in
 * its queue (uws-local: "queueReason" and "jobsAhead"), or SLURM's pending reason (jobInfo
 * "slurm_reason") in words with the code; null when the manager said nothing.
 * @param {Object<string, any>|null} jobInfo @returns {string|null}
 */
export function waitingReason(jobInfo) {
  const info = jobInfo || {};
  if (info.queue) return String(info.queue);
  if (info.queueReason) {
    const ahead = info.jobsAhead === undefined || info.jobsAhead === null ? null : Number(info.jobsAhead);
    const place = ahead === null ? "" : ahead === 0 ? ", next to start" : `, ${ahead} job${ahead === 1 ? "" : "s"} ahead`;
    return `${info.queueReason}${place}`;
  }
  const code = info.slurm_reason ? String(info.slurm_reason) : "";
  if (!code) return null;
  return SLURM[code] ? `${SLURM[code]} (SLURM: ${code})` : `SLURM: ${code}`;
}

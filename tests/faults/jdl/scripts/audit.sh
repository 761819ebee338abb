#!/bin/bash
# Job type "audit" of the fault-injection suite: one "start" line per run of the job.
set -eu
echo "start $$ $(date +%s.%N)" >> runs.log
sleep "$seconds"
echo "end $$" >> runs.log
echo done > output.txt

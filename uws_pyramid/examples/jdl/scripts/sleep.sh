#!/bin/bash
# Job type "sleep": sleep "duration" seconds, one second at a time so that an abort stops it
# promptly, writing the fraction done (0 to 1) to the file "progress" for clients to show.
set -eu
total=${duration#+}
# Checked again here because bash arithmetic on an unchecked string can run commands.
case $total in
    '' | *[!0-9]*) printf 'duration must be a whole number of seconds, not %s\n' "$duration" >&2
                   exit 2 ;;
esac
total=$((10#$total))

progress() {
    # Write then rename, so that a reader never sees an empty file.
    if ((total == 0)); then
        printf '1\n' > progress.tmp
    else
        printf '%d.%03d\n' $(($1 / total)) $(($1 * 1000 / total % 1000)) > progress.tmp
    fi
    mv -f progress.tmp progress
}

for ((i = 0; i < total; i++)); do
    progress "$i"
    sleep 1
done
progress "$total"
printf 'slept %d s\n' "$total" > output.txt

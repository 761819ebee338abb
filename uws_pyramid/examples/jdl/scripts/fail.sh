#!/bin/bash
# Job type "fail": write the parameter "message" to stderr and exit with status 1.
set -eu
printf '%s\n' "$message" >&2
exit 1

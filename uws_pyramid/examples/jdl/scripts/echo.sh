#!/bin/bash
# Job type "echo": write the parameter "message" to output.txt.
# Parameters arrive as environment variables; values are data, so always quoted.
set -eu
printf '%s\n' "$message" > output.txt

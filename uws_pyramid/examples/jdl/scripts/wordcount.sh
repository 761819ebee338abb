#!/bin/bash
# Job type "wordcount": count the lines, words and bytes of the uploaded file "infile" into
# counts.json. The value is a path (relative to the working directory) and only ever quoted.
set -eu
if [ ! -f "$infile" ]; then
    printf 'input file not found: %s\n' "$infile" >&2
    exit 1
fi
# Reading from stdin keeps the file name out of wc's output and out of its options.
counts=$(wc -l -w -c < "$infile")
read -r lines words bytes <<< "$counts"
printf '{"lines": %d, "words": %d, "bytes": %d}\n' "$lines" "$words" "$bytes" > counts.json

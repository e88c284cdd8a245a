#!/bin/sh
# `hakmem compat` sort: sort a generated file of lines (input.txt, written by hakmem compat)
# three ways; print checksums of the results.
set -eu
export LC_ALL=C
sort input.txt > s1.txt
sort -t ' ' -k3,3n -k1,1 input.txt > s2.txt
sort -u -r --parallel=2 input.txt > s3.txt
wc -l < input.txt
cksum s1.txt s2.txt s3.txt
head -n 2 s1.txt
tail -n 1 s2.txt

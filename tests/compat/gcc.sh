#!/bin/sh
# `hakmem compat` gcc: compile the multi-file program in ./cprog (each unit separately, then
# link), run it, and print its output and a digest of every object and the binary.
# Usage: sh gcc.sh [SCALE]
set -eu
scale=${1:-1}
cd cprog
for f in util strtab vec tree main; do
  gcc -O2 -Wall -Wextra -Werror -std=c11 -D_GNU_SOURCE -c "$f.c" -o "$f.o"
done
gcc -O2 -o prog util.o strtab.o vec.o tree.o main.o -lpthread
# a second build in one gcc invocation, unoptimised, must behave the same
gcc -O0 -std=c11 -D_GNU_SOURCE -o prog0 util.c strtab.c vec.c tree.c main.c -lpthread
./prog "$scale" > out.txt
./prog0 "$scale" > out0.txt
cat out.txt
cmp out.txt out0.txt && echo "O0 and O2 agree"
cksum util.o strtab.o vec.o tree.o main.o prog

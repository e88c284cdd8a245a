#!/bin/sh
# `hakmem compat` git: init, add of many files, three commits, log, gc, fsck, archive, blame.
# Author, committer and dates are fixed, so every hash printed is the same on any malloc.
# Usage: sh git.sh [NFILES]
set -eu
nfiles=${1:-2000}
top=$PWD
export HOME="$top/home" GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME="Compat Tester" GIT_AUTHOR_EMAIL="compat@example.invalid"
export GIT_COMMITTER_NAME="Compat Tester" GIT_COMMITTER_EMAIL="compat@example.invalid"
export GIT_AUTHOR_DATE="2024-01-01T00:00:00+0000" GIT_COMMITTER_DATE="2024-01-01T00:00:00+0000"
export TZ=UTC LC_ALL=C
mkdir -p home repo
cd repo
git init -q -b main .
git config core.autocrlf false
git config gc.auto 0
git config pack.threads 1
# many files of varied sizes in 40 directories (one awk process writes them all)
awk -v n="$nfiles" 'BEGIN {
  x = 1234567
  for (d = 0; d < 40; d++) system("mkdir -p dir" d)
  for (i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) % 2147483648
    f = sprintf("dir%d/file%05d.txt", i % 40, i)
    lines = 1 + x % 60
    for (l = 0; l < lines; l++) {
      s = sprintf("%d line %d of file %d:", l, l, i)
      w = (x + l * 7) % 30
      for (k = 0; k < w; k++) s = s " w" ((x + k * l) % 1000)
      print s > f
    }
    close(f)
  }
}'
git add -A
git commit -q -m "initial: $nfiles files"
# second commit: edit every 7th file, delete every 13th, add a few binary-ish files
for f in $(git ls-files | awk 'NR % 7 == 0'); do echo "edited $f" >> "$f"; done
git ls-files | awk 'NR % 13 == 0 && NR % 7 != 0' | xargs git rm -q
awk 'BEGIN { for (i = 0; i < 5; i++) { f = sprintf("blob%d.bin", i); for (j = 0; j < 20000; j++) printf("%c", (i * 31 + j * 17) % 256) > f; close(f) } }'
git add -A
GIT_COMMITTER_DATE="2024-01-02T00:00:00+0000" GIT_AUTHOR_DATE="2024-01-02T00:00:00+0000" \
  git commit -q -m "second: edits, deletions, blobs"
git mv dir1 renamed1
GIT_COMMITTER_DATE="2024-01-03T00:00:00+0000" GIT_AUTHOR_DATE="2024-01-03T00:00:00+0000" \
  git commit -q -m "third: rename a directory"
echo "== log"
git log --format='%H %an %ad %s' --date=iso-strict
git log --stat --format='%h %s' | tail -n 5
echo "== diff"
git diff --stat HEAD~2 HEAD | tail -n 1
git diff -M --name-status HEAD~1 HEAD | head -n 3
git diff HEAD~2 HEAD~1 | cksum
echo "== gc"
git gc -q
git count-objects -v | grep -E '^(count|in-pack|packs|garbage):'
git fsck --full --strict 2>&1
git verify-pack -s "$(ls .git/objects/pack/*.idx)" | grep -v '^chain length' || true
echo "== after gc"
git rev-parse HEAD HEAD~1 HEAD~2 HEAD^{tree}
git ls-tree -r HEAD | cksum
git archive --format=tar HEAD | cksum
git blame -s renamed1/file00001.txt | cksum
git log -p --format='%H' | cksum
git grep -c 'line 3 of' HEAD | wc -l

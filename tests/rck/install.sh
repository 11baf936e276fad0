#!/usr/bin/env bash
# tests/rck/install.sh — fetches Iceberg's REST Compatibility Kit and its run-time class path into
# build/rck/jars/ (one flat directory of jars, read by tests/rck/run.sh and bench/peers.sh).
#
# Needs a JDK (17+) and Maven (Debian 12: openjdk-17-jdk-headless maven) and Maven Central, once; after
# that nothing here touches the network. Idempotent: when build/rck/jars/ was filled from the same
# tests/rck/pom.xml it does nothing; otherwise it empties the directory and copies again (so a version
# bump in the pom never leaves two versions of a jar on the class path).
#
#   tests/rck/install.sh            # or RCK_JARS=/somewhere tests/rck/install.sh
#   MAVEN_ARGS="-s settings.xml"    # extra arguments for mvn (a mirror, a proxy, -o with a warm ~/.m2)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
JARS=${RCK_JARS:-$ROOT/build/rck/jars}
POM=$HERE/pom.xml
STAMP=$JARS/.pom.sha256

for tool in java mvn sha256sum; do
  command -v "$tool" >/dev/null 2>&1 || { echo "rck install: $tool not found (Debian: apt-get install openjdk-17-jdk-headless maven)" >&2; exit 2; }
done
jv=$(java -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2}')
if [ "${jv%%.*}" -lt 17 ] 2>/dev/null; then
  echo "rck install: Java $jv found; Iceberg 1.11 needs 17 or later" >&2
  exit 2
fi

want=$(sha256sum "$POM" | cut -d' ' -f1)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && ls "$JARS"/iceberg-open-api-*-tests.jar >/dev/null 2>&1; then
  echo "rck install: $JARS is up to date ($(find "$JARS" -name '*.jar' | wc -l) jars)"
  exit 0
fi

rm -rf "$JARS"
mkdir -p "$JARS"
# shellcheck disable=SC2086  # MAVEN_ARGS is a list of words on purpose
# (Debian's Maven 3.8.7 prints colour resets even with -B and style.color=never: strip them)
mvn -B -q -Dstyle.color=never ${MAVEN_ARGS:-} -f "$POM" dependency:copy-dependencies -DoutputDirectory="$JARS" \
  -Dmdep.overWriteReleases=true 2>&1 | sed 's/\x1b\[[0-9;]*m//g'

for need in iceberg-open-api-1.11.0-test-fixtures iceberg-open-api-1.11.0-tests iceberg-core-1.11.0-tests \
  iceberg-api-1.11.0-tests junit-platform-console-standalone; do
  ls "$JARS"/"$need"*.jar >/dev/null 2>&1 || { echo "rck install: $need*.jar missing after mvn" >&2; exit 1; }
done
echo "$want" >"$STAMP"
echo "rck install: $(find "$JARS" -name '*.jar' | wc -l) jars in $JARS"

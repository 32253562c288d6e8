#!/bin/sh
# Prepares the Gradle wrapper before gradlew starts it.
#
# 1. The distribution named in gradle-wrapper.properties is already in the wrapper cache, or
#    Gradle's download host responds: nothing to do, the wrapper takes over.
# 2. Otherwise fetch the identical bin distribution from the Maven Central coordinates
#    com.github.hazendaz.gradle:gradle:<version>:zip:bin with `mvn dependency:get` (Maven's
#    configured repositories), check it against distributionSha256Sum and put it where the
#    wrapper looks for it.
# 3. Otherwise fall back to a locally installed Gradle (Debian's `gradle` package, installed with
#    apt-get when running as root), whose path goes to stdout so gradlew runs it instead.
#
# Every step prints one line on stderr. Stdout carries only the fallback path, or nothing.
# Set HERALD_SEED_RETRY=1 to retry the Maven route after it failed within the last day.

set -u

say() {
    echo "seed-wrapper: $*" >&2
}

script_dir=$(cd "$(dirname "$0")" && pwd -P)
properties="$script_dir/wrapper/gradle-wrapper.properties"

read_property() {
    # The properties file escapes ':' as '\:'.
    sed -n "s/^$1=//p" "$properties" | sed 's/\\:/:/g' | tr -d '\r'
}

distribution_url=$(read_property distributionUrl)
expected_sha256=$(read_property distributionSha256Sum)
zip_name=${distribution_url##*/}
distribution_name=${zip_name%.zip}
gradle_version=${distribution_name#gradle-}
gradle_version=${gradle_version%-bin}

# The wrapper stores a distribution under <dists>/<name>/<hash>, where <hash> is the MD5 of the
# distribution URL written in base 36 (Gradle's PathAssembler does the same).
url_hash_base36() {
    hex=$(printf '%s' "$1" | md5sum | cut -d' ' -f1 | tr 'a-f' 'A-F')
    digits=$(echo "obase=36; ibase=16; $hex" | BC_LINE_LENGTH=0 bc)
    alphabet=0123456789abcdefghijklmnopqrstuvwxyz
    result=
    for digit in $digits; do
        index=$(expr "$digit" + 1)
        result="$result$(echo "$alphabet" | cut -c"$index")"
    done
    echo "$result"
}

find_fallback_gradle() {
    if command -v gradle >/dev/null 2>&1; then
        say "falling back to the installed Gradle at $(command -v gradle) ($(gradle --version 2>/dev/null | sed -n 's/^Gradle //p'))"
        command -v gradle
        return 0
    fi
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        say "no Gradle installed: installing Debian's gradle package with apt-get (running as root)"
        # A fresh machine may have no package lists yet, so refresh them first.
        apt-get update -qq >&2 || say "apt-get update failed: trying the install with the lists at hand"
        if DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gradle >&2 && command -v gradle >/dev/null 2>&1; then
            say "falling back to the freshly installed Gradle at $(command -v gradle)"
            command -v gradle
            return 0
        fi
        say "apt-get install gradle failed"
    fi
    say "no way left to obtain Gradle $gradle_version: install Gradle or give this machine access to Gradle's download host"
    return 1
}

if [ -z "$distribution_url" ] || [ -z "$gradle_version" ]; then
    say "cannot read distributionUrl from $properties"
    exit 1
fi

gradle_user_home=${GRADLE_USER_HOME:-$HOME/.gradle}
if ! command -v bc >/dev/null 2>&1; then
    say "bc is missing, so the wrapper cache folder cannot be computed: leaving everything to the wrapper"
    exit 0
fi
distribution_dir="$gradle_user_home/wrapper/dists/$distribution_name/$(url_hash_base36 "$distribution_url")"
cached_zip="$distribution_dir/$zip_name"
failure_marker="$distribution_dir/herald-seed-failed"

if [ -f "$cached_zip.ok" ] || [ -f "$cached_zip" ]; then
    say "Gradle $gradle_version is in the wrapper cache ($distribution_dir)"
    exit 0
fi

if ! command -v curl >/dev/null 2>&1; then
    say "curl is missing, so the download host cannot be probed: leaving the download to the wrapper"
    exit 0
fi
curl --silent --head --location --output /dev/null --max-time 15 "$distribution_url"
curl_status=$?
if [ "$curl_status" = 0 ]; then
    say "Gradle $gradle_version is not cached yet and its download host responds: the wrapper downloads it"
    exit 0
fi
say "Gradle $gradle_version is not cached and $distribution_url cannot be reached (curl exit $curl_status)"

if [ -n "$(find "$failure_marker" -mmin -1440 2>/dev/null)" ] && [ -z "${HERALD_SEED_RETRY:-}" ]; then
    say "the Maven Central route failed within the last day ($failure_marker): skipping it"
    find_fallback_gradle
    exit $?
fi

if [ -z "$expected_sha256" ]; then
    say "distributionSha256Sum is missing from $properties, so a seeded zip could not be checked: skipping the Maven Central route"
    find_fallback_gradle
    exit $?
fi
if ! command -v mvn >/dev/null 2>&1; then
    say "mvn is not installed: skipping the Maven Central route"
    find_fallback_gradle
    exit $?
fi

coordinates="com.github.hazendaz.gradle:gradle:$gradle_version:zip:bin"
work_dir=$(mktemp -d)
trap 'rm -rf "$work_dir"' EXIT
say "fetching $coordinates with mvn dependency:copy"
if mvn --batch-mode --quiet dependency:copy -Dartifact="$coordinates" -DoutputDirectory="$work_dir" >"$work_dir/mvn.log" 2>&1; then
    fetched_zip=$(find "$work_dir" -name '*.zip' | head -n 1)
    actual_sha256=$(sha256sum "$fetched_zip" | cut -d' ' -f1)
    if [ "$actual_sha256" = "$expected_sha256" ]; then
        mkdir -p "$distribution_dir"
        mv "$fetched_zip" "$cached_zip.part" && mv "$cached_zip.part" "$cached_zip"
        say "seeded $cached_zip (SHA-256 matches distributionSha256Sum): the wrapper unpacks it"
        exit 0
    fi
    say "the fetched zip has SHA-256 $actual_sha256, not $expected_sha256: discarded"
else
    say "mvn could not fetch $coordinates: $(grep -m 1 'ERROR' "$work_dir/mvn.log" | cut -c1-200)"
fi

mkdir -p "$distribution_dir" && touch "$failure_marker"
find_fallback_gradle

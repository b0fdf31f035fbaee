#!/usr/bin/env bash
# Runs README.md's Install block (the first ```sh block after "## Install") as written, from the
# repository root, the way `make test` uses it: Maven gets a throwaway home (target/readme-home, through
# -Duser.home in MAVEN_OPTS), so the block's `mvn install` fills target/readme-home/.m2/repository and
# never the user's ~/.m2. ConsumerProjectIT then checks what it installed and builds against it.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
root=$(dirname "$here")
home=$here/target/readme-home
# The repository the user's builds already filled: tried before Maven Central, so the throwaway one
# copies Maven's plugins and SLF4J from disk instead of downloading them again.
cache=${HEADWATER_M2_CACHE:-$HOME/.m2/repository}

block=$(awk '/^## Install$/ { on = 1; next } on && /^```sh$/ { inb = 1; next } inb && /^```$/ { exit } inb { print }' \
    "$here/README.md")
if [[ -z $block ]]; then
    echo "readme-install.sh: README.md has no sh block under '## Install'" >&2
    exit 1
fi

rm -rf "$home"
mkdir -p "$home/.m2"
url="file://$cache"
cat > "$home/.m2/settings.xml" <<XML
<settings>
  <profiles>
    <profile>
      <id>build-cache</id>
      <repositories><repository><id>build-cache</id><url>$url</url></repository></repositories>
      <pluginRepositories><pluginRepository><id>build-cache</id><url>$url</url></pluginRepository></pluginRepositories>
    </profile>
  </profiles>
  <activeProfiles><activeProfile>build-cache</activeProfile></activeProfiles>
</settings>
XML

echo "== README.md's Install block, with Maven's home in $home:"
printf '%s\n' "$block"
cd "$root"
MAVEN_OPTS="${MAVEN_OPTS:-} -Duser.home=$home" bash -euo pipefail -c "$block"

#!/usr/bin/env bash
# Installs what building, running and testing tandem needs, and nothing that is already there.
# Debian 12 packages through apt-get (sudo when not root); npm packages for the kafkajs tests and
# for the web pages (web/: their bundler and libraries, and the browser tests' playwright-core and
# axe-core, which drive Debian's chromium).
#   scripts/deps.sh            build + run + test dependencies
#   scripts/deps.sh bench      also what the benchmarks compare against (nats-server, wrk)
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(build-essential cmake pkg-config clang libclang-rt-14-dev clang-format
      libcmocka-dev librdkafka-dev kcat zlib1g-dev libzstd-dev liblz4-dev libjansson-dev
      python3 curl procps libhttp-parser-dev libcurl4-openssl-dev libsqlite3-dev
      libyaml-dev liburing-dev nginx libjwt-dev libssl-dev libsodium-dev chromium sqlite3
      python3-kafka skopeo umoci postgresql-15 libpq-dev)
if [ "${1:-}" = bench ]; then
    pkgs+=(nats-server wrk libnats-dev nginx)
fi
command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
command -v npm >/dev/null 2>&1 || pkgs+=(npm)

missing=()
for p in "${pkgs[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$status" in
    *" installed") ;;
    *) missing+=("$p") ;;
    esac
done

if [ "${#missing[@]}" -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO=sudo
    echo "deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# kafkajs for the integration tests (an independent second Kafka client implementation).
if [ -f tests/integration/package.json ] && [ ! -d tests/integration/node_modules/kafkajs ]; then
    echo "deps: npm ci in tests/integration"
    (cd tests/integration && npm ci --no-audit --no-fund --loglevel=error)
fi
# The blog's tests: kafkajs, ajv (JSON Schema validation of responses and events), yaml, the
# OpenAPI 3.1 and AsyncAPI 2.6 schemas of the documents. npm ci when a dependency is missing.
if [ -f tests/blog/package.json ] && ! (cd tests/blog && node -e '
    const deps = Object.keys(require("./package.json").dependencies);
    process.exit(deps.every((d) => require("fs").existsSync(`node_modules/${d}/package.json`)) ? 0 : 1)'); then
    echo "deps: npm ci in tests/blog"
    (cd tests/blog && npm ci --no-audit --no-fund --loglevel=error)
fi
# `tandem export kubernetes`'s test (tests/kube): kubernetes-models (the Kubernetes API schemas,
# validated offline) and yaml. npm ci when a dependency is missing.
if [ -f tests/kube/package.json ] && ! (cd tests/kube && node -e '
    const deps = Object.keys(require("./package.json").dependencies);
    process.exit(deps.every((d) => require("fs").existsSync(`node_modules/${d}/package.json`)) ? 0 : 1)'); then
    echo "deps: npm ci in tests/kube"
    (cd tests/kube && npm ci --no-audit --no-fund --loglevel=error)
fi
# RealWorld's Postman collection is run by newman (tests/blog/system-postman.test.mjs).
if [ -f tests/postman/package.json ] && [ ! -f tests/postman/node_modules/newman/package.json ]; then
    echo "deps: npm ci in tests/postman"
    (cd tests/postman && npm ci --no-audit --no-fund --loglevel=error)
fi
# The web pages (web/package.json): esbuild, marked, DOMPurify; playwright-core and axe-core for
# the browser tests and bench/web. npm ci when the install is missing or older than the lock file
# (the build runs the same rule: services/web/CMakeLists.txt).
if [ -f web/package-lock.json ] && { [ ! -f web/node_modules/.package-lock.json ] ||
    [ web/package-lock.json -nt web/node_modules/.package-lock.json ]; }; then
    echo "deps: npm ci in web"
    (cd web && npm ci --no-audit --no-fund --loglevel=error)
fi

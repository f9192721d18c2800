# tandem's container image from the release binaries (docs/scale-out.md, "The image"):
#
#   make build && docker build -t tandem:0.1.0 .
#
# The binaries are the ones `make build` made on Debian 12, so they run on debian:12-slim with
# the Debian packages of the libraries they link (the list below is what `readelf -d` names in
# them, and the binaries are what `cmake --install` installs: scripts/image.sh checks both and
# fails when this file and the build disagree). Without
# a container runtime, `make image` builds the same contents as an OCI image layout
# (scripts/image.sh). The user, directories and paths are what `tandem export kubernetes` expects.
FROM debian:12-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
       libcurl4 libhttp-parser2.9 libjansson4 libjwt0 libpq5 librdkafka1 libsodium23 libsqlite3-0 \
       libssl3 liburing2 libyaml-0-2 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd -g 10001 tandem \
    && useradd -u 10001 -g 10001 -d /var/lib/tandem -M -s /usr/sbin/nologin tandem \
    && install -d -o 10001 -g 10001 /var/lib/tandem
COPY build/bin/tandem build/bin/tandem-broker build/bin/tandem-users build/bin/tandem-articles \
     build/bin/tandem-comments build/bin/tandem-activity build/bin/tandem-web \
     build/bin/tandem-console build/bin/tandem-fleet build/bin/tandem-ingest \
     build/bin/example-hello /usr/local/bin/
COPY build/share/tandem/web /usr/local/share/tandem/web
USER 10001:10001
WORKDIR /var/lib/tandem
CMD ["/usr/local/bin/tandem", "--help"]

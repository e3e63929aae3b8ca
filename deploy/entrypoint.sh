#!/bin/sh
# Container entrypoint for the attribution worker images (deploy/Dockerfile, Dockerfile.cuda, Dockerfile.gpu).
#
# Runs:   java ${JAVA_OPTS} -jar /app/attrib.jar "$@"
#
# The images' default command is just `worker`; for that subcommand this script fills in the
# options the environment provides, unless they were given explicitly:
#   --bootstrap  <- $KAFKA_BOOTSTRAP          (required: the worker cannot start without it)
#   --model      <- $MODEL_DIR, default /models/llama
#   --device     <- $DEVICE, when set         (Dockerfile.cuda sets DEVICE=cuda)
# so the default command is effectively
#   worker --bootstrap ${KAFKA_BOOTSTRAP} --model /models/llama
# Any other subcommand (broker, submit, explain, demo, --help) is passed through unchanged.
# With ATTRIB_LIBTORCH (Dockerfile.gpu: the image's own torch), the library_path of its
# libtorch.properties goes first into LD_LIBRARY_PATH, as ./attrib does on a host.
#
# `exec` makes the JVM PID 1, so SIGTERM from `docker stop` / Kubernetes reaches it directly and the
# worker's shutdown hook can finish (or hand back) the job in flight within the grace period.
# JAVA_OPTS is split on whitespace on purpose (several -D/-X options in one variable); do not put
# values containing spaces in it.
set -eu

if [ "${1:-}" = "worker" ]; then
  shift
  has_bootstrap=false
  has_model=false
  has_device=false
  help=false
  for arg in "$@"; do
    case "$arg" in
      -h|--help|-V|--version) help=true ;;
      --bootstrap|--bootstrap=*) has_bootstrap=true ;;
      --model|--model=*) has_model=true ;;
      --device|--device=*) has_device=true ;;
    esac
  done
  if [ "$help" = true ]; then
    has_bootstrap=true has_model=true has_device=true  # `worker --help`: add nothing
  fi
  if [ "$has_device" = false ] && [ -n "${DEVICE:-}" ]; then
    set -- --device "$DEVICE" "$@"
  fi
  if [ "$has_model" = false ]; then
    set -- --model "${MODEL_DIR:-/models/llama}" "$@"
  fi
  if [ "$has_bootstrap" = false ]; then
    if [ -z "${KAFKA_BOOTSTRAP:-}" ]; then
      echo "entrypoint: set KAFKA_BOOTSTRAP (host:port of the Kafka brokers) or pass --bootstrap" >&2
      exit 64
    fi
    set -- --bootstrap "$KAFKA_BOOTSTRAP" "$@"
  fi
  set -- worker "$@"
fi

if [ -n "${ATTRIB_LIBTORCH:-}" ] && [ -f "$ATTRIB_LIBTORCH/libtorch.properties" ]; then
  library_path="$(sed -n 's/^library_path=//p' "$ATTRIB_LIBTORCH/libtorch.properties")"
  export LD_LIBRARY_PATH="$library_path${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi

set -f  # JAVA_OPTS is word-split below, but never glob-expanded
# shellcheck disable=SC2086 # JAVA_OPTS is deliberately word-split
exec java ${JAVA_OPTS:-} -jar /app/attrib.jar "$@"

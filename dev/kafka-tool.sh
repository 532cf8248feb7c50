#!/usr/bin/env bash
# Run a Kafka CLI tool from the jars that dev/services.sh fetched into .dev/kafka/libs,
# against the local broker. Short names for the common tools:
#
#   dev/kafka-tool.sh topics --list
#   dev/kafka-tool.sh topics --create --topic t --partitions 3
#   dev/kafka-tool.sh console-producer --topic t
#   dev/kafka-tool.sh console-consumer --topic t --from-beginning --max-messages 1
#   dev/kafka-tool.sh consumer-groups --describe --all-groups
#
# --bootstrap-server 127.0.0.1:9092 (or $STREAMJOBS_KAFKA_PORT) is added unless
# given. Any other first argument is taken as a main class (e.g. kafka.tools.StorageTool).
set -euo pipefail

# shellcheck source=dev/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
LIBS="$STATE_DIR/kafka/libs"

[[ $# -ge 1 ]] || { sed -n '2,12s/^# \{0,1\}//p' "$0" >&2; exit 2; }
[[ -f "$LIBS/.pom.sha256" ]] || die "no Kafka jars yet; run dev/services.sh up"

tool="$1"
shift
case "$tool" in
  topics) main=org.apache.kafka.tools.TopicCommand ;;
  console-producer) main=org.apache.kafka.tools.ConsoleProducer ;;
  console-consumer) main=org.apache.kafka.tools.consumer.ConsoleConsumer ;;
  consumer-groups) main=org.apache.kafka.tools.consumer.group.ConsumerGroupCommand ;;
  *) main="$tool" ;;
esac

args=("$@")
if [[ "$main" == org.apache.kafka.tools.* && " $* " != *" --bootstrap-server "* ]]; then
  args=(--bootstrap-server "$KAFKA_HOST:$KAFKA_PORT" "${args[@]}")
fi

exec java -Xmx256m -cp "$LIBS/*" \
  "-Dlog4j2.configurationFile=$ROOT/dev/kafka/tools-log4j2.properties" \
  "$main" "${args[@]}"

#!/usr/bin/python3
"""Writes the fixtures of compression_test.cc: data compressed by real Kafka
client libraries, so that our decoders are held to what the clients send, not
to what our own encoders make. Not run by the tests: run it by hand when the
fixtures need refreshing and commit its output.

    /usr/bin/python3 tests/unit/make_compression_fixtures.py > tests/unit/compression_fixtures.inc
    /usr/bin/python3 tests/unit/make_compression_fixtures.py fuzz-seeds DIR

Needs Debian's python3-kafka (kafka-python 2.0.2), python3-snappy,
python3-lz4, python3-zstandard and python3-confluent-kafka (librdkafka 2.0.2),
under /usr/bin/python3. No network beyond loopback.

The .inc holds two tables:

payload_fixtures: one payload (payload() below; compression_test.cc makes the
same bytes) through each codec as the clients' own code compresses it:
kafka-python's kafka.codec functions (gzip; snappy in xerial framing, as Java
writes it; lz4 frame; zstd with the content size), python-snappy's raw block
(what librdkafka writes), two gzip members back to back, an lz4 frame with
content size and checksums, and a zstd frame without the content size (what
Java's streaming ZstdOutputStream writes).

batch_fixtures: whole v2 batches of the same 30 records (record_key(),
record_value(), record_headers(), record_timestamp_ms() below; the test has
the same formulas), one per codec from each of
- kafka-python's DefaultRecordBatchBuilder (what its producer sends), and
- librdkafka: a confluent_kafka Producer against librdkafka's built-in mock
  cluster, the batch read back raw with a kafka-python FetchRequest (the mock
  stores batches as produced, apart from the base offset).

fuzz-seeds DIR: each batch fixture as a seed for tests/fuzz/decompress_fuzz.cc:
one byte codec, one byte record count, then the compressed records.
"""

import gzip
import struct
import sys
import time

import lz4.frame
import snappy
import zstandard

from kafka import codec
from kafka.record.default_records import DefaultRecordBatchBuilder

GZIP, SNAPPY, LZ4, ZSTD = 1, 2, 3, 4
CODEC_NAMES = {GZIP: "gzip", SNAPPY: "snappy", LZ4: "lz4", ZSTD: "zstd"}
RECORD_COUNT = 30
BASE_TIMESTAMP_MS = 1700000000000


def payload():
    # 82,000 bytes: three xerial blocks of 32 KiB input.
    return b"".join(b"record %05d: tidelog compression fixture\n" % i for i in range(2000))


def record_key(i):
    return None if i % 7 == 3 else b"key-%d" % i


def record_value(i):
    return None if i % 11 == 5 else (b"value-%d " % i) * 8


def record_headers(i):
    headers = []
    if i % 3 == 0:
        headers.append(("trace", b"t%d" % i))
    if i % 5 == 1:
        headers.append(("null", None))
    return headers


def record_timestamp_ms(i):
    return BASE_TIMESTAMP_MS + 10 * i


def payload_fixtures():
    data = payload()
    half = len(data) // 2
    no_size = zstandard.ZstdCompressor(write_content_size=False).compressobj()
    zstd_streamed = no_size.compress(data) + no_size.flush()
    return [
        ("kafka-python 2.0.2 gzip_encode", GZIP, codec.gzip_encode(data)),
        ("two gzip members (Python gzip)", GZIP,
         gzip.compress(data[:half]) + gzip.compress(data[half:])),
        ("kafka-python 2.0.2 snappy_encode, xerial framing (as Java)", SNAPPY,
         codec.snappy_encode(data, xerial_compatible=True)),
        ("python-snappy raw block (as librdkafka)", SNAPPY, snappy.compress(data)),
        ("kafka-python 2.0.2 lz4_encode", LZ4, codec.lz4_encode(data)),
        ("python-lz4 frame with content size and checksums", LZ4,
         lz4.frame.compress(data, block_linked=False, store_size=True,
                            content_checksum=True, block_checksum=True)),
        ("kafka-python 2.0.2 zstd_encode (content size)", ZSTD, codec.zstd_encode(data)),
        ("python-zstandard stream without content size (as Java)", ZSTD, zstd_streamed),
    ]


def kafka_python_batch(codec_id):
    builder = DefaultRecordBatchBuilder(magic=2, compression_type=codec_id, is_transactional=False,
                                        producer_id=-1, producer_epoch=-1, base_sequence=-1,
                                        batch_size=1 << 20)
    for i in range(RECORD_COUNT):
        builder.append(i, record_timestamp_ms(i), record_key(i), record_value(i),
                       record_headers(i))
    batch = bytes(builder.build())
    assert batch[22] & 7 == codec_id, "kafka-python sent it uncompressed"
    return batch


def librdkafka_batch(codec_id):
    from confluent_kafka import Producer
    from kafka.client_async import KafkaClient
    from kafka.protocol.fetch import FetchRequest

    topic = "fixture"
    producer = Producer({"test.mock.num.brokers": 1,
                         "compression.codec": CODEC_NAMES[codec_id],
                         "linger.ms": 1000, "log_level": 3})
    # Metadata for the topic first (the mock creates it): records produced
    # while the leader is unknown can leave in a batch of their own.
    metadata = producer.list_topics(topic, timeout=10)
    assert metadata.topics[topic].partitions[0].leader >= 0
    broker = list(metadata.brokers.values())[0]
    for i in range(RECORD_COUNT):
        headers = record_headers(i)
        producer.produce(topic, key=record_key(i), value=record_value(i), partition=0,
                         timestamp=record_timestamp_ms(i), headers=headers or None)
    assert producer.flush(10) == 0

    client = KafkaClient(bootstrap_servers="%s:%d" % (broker.host, broker.port),
                         api_version=(2, 0, 0))
    deadline = time.monotonic() + 10
    while not client.ready(broker.id):
        assert time.monotonic() < deadline, "mock broker not ready"
        client.poll(timeout_ms=100)
    request = FetchRequest[4](-1, 100, 1, 1 << 24, 0, [(topic, [(0, 0, 1 << 24)])])
    future = client.send(broker.id, request)
    client.poll(future=future)
    client.close()
    partition = future.value.topics[0][1][0]
    assert partition[1] == 0, "fetch error %d" % partition[1]
    batch = bytes(partition[5])
    (batch_length,) = struct.unpack_from(">i", batch, 8)
    (record_count,) = struct.unpack_from(">i", batch, 57)
    assert len(batch) == 12 + batch_length and record_count == RECORD_COUNT, \
        "librdkafka split the records into several batches"
    assert batch[22] & 7 == codec_id
    return batch


def batch_fixtures():
    out = []
    for codec_id in (GZIP, SNAPPY, LZ4, ZSTD):
        out.append(("kafka-python 2.0.2 DefaultRecordBatchBuilder %s" % CODEC_NAMES[codec_id],
                    codec_id, kafka_python_batch(codec_id)))
    for codec_id in (GZIP, SNAPPY, LZ4, ZSTD):
        out.append(("librdkafka 2.0.2 producer %s" % CODEC_NAMES[codec_id], codec_id,
                    librdkafka_batch(codec_id)))
    return out


def hex_lines(data, width=88):
    text = data.hex()
    return ["\"%s\"" % text[i:i + width] for i in range(0, len(text), width)] or ["\"\""]


def print_table(name, rows):
    print("const compression_fixture %s[] = {" % name)
    for label, codec_id, data in rows:
        print("    {\"%s\", compression_codec::%s," % (label, CODEC_NAMES[codec_id]))
        lines = hex_lines(data)
        for line in lines[:-1]:
            print("     %s" % line)
        print("     %s}," % lines[-1])
    print("};")


def write_inc():
    print("// Compressed data from real Kafka clients for compression_test.cc, printed by")
    print("// tests/unit/make_compression_fixtures.py (see there for how). Data only.")
    print("// clang-format off")
    print()
    print_table("payload_fixtures", payload_fixtures())
    print()
    print_table("batch_fixtures", batch_fixtures())


def write_fuzz_seeds(directory):
    import os
    for label, codec_id, batch in batch_fixtures():
        (record_count,) = struct.unpack_from(">i", batch, 57)
        name = label.split(" ")[0] + "-" + CODEC_NAMES[codec_id] + ".bin"
        with open(os.path.join(directory, name), "wb") as f:
            f.write(bytes([codec_id, record_count]) + batch[61:])


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "fuzz-seeds":
        write_fuzz_seeds(sys.argv[2])
    elif len(sys.argv) == 1:
        write_inc()
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()

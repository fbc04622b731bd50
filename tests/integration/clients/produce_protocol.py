"""The produce side of the Kafka protocol on a raw socket: magic-2 record batches
(with producer id, epoch and base sequence), Produce v7, Fetch v4 with the
returned batches decoded, InitProducerId v1 and v4 (flexible), DeleteRecords v1.

Shared by raw_protocol_test.py (CRC-32C, the batch encoder) and
idempotence_raw_test.py. Layouts follow Kafka 3.8's message specs
(shared/kafka-protocol/messages); the batch layout is Kafka's RecordBatch v2.
Connections and response readers are group_protocol.py's.
"""
import struct

from group_protocol import Connection, Reader, i16, i32, i64, string

API_PRODUCE, API_FETCH, API_DELETE_RECORDS, API_INIT_PRODUCER_ID = 0, 1, 21, 22

# Error codes (Kafka 3.8).
NONE = 0
CORRUPT_MESSAGE = 2
OUT_OF_ORDER_SEQUENCE_NUMBER = 45
DUPLICATE_SEQUENCE_NUMBER = 46
INVALID_PRODUCER_EPOCH = 47
INVALID_TXN_STATE = 48
UNKNOWN_PRODUCER_ID = 59
INVALID_RECORD = 87

ATTRIBUTE_TRANSACTIONAL = 0x10
BATCH_HEADER_BYTES = 61


# ---- CRC-32C and varints ---------------------------------------------------------

def _crc32c_table():
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


CRC32C_TABLE = _crc32c_table()


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc = CRC32C_TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def zigzag_varint(n):
    n = (n << 1) ^ (n >> 63)
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def read_zigzag_varint(data, at):
    """(value, next position)."""
    shift = value = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return (value >> 1) ^ -(value & 1), at


# ---- record batches ----------------------------------------------------------------

def record_batch(values, timestamp_ms, producer_id=-1, producer_epoch=-1, base_sequence=-1,
                 attributes=0):
    """A magic-2 batch of uncompressed records (no key, no headers), base offset 0."""
    records = b""
    for i, value in enumerate(values):
        body = (b"\x00" + zigzag_varint(0) + zigzag_varint(i) + zigzag_varint(-1)
                + zigzag_varint(len(value)) + value + zigzag_varint(0))
        records += zigzag_varint(len(body)) + body
    after_crc = (struct.pack(">hiqqqhii", attributes, len(values) - 1, timestamp_ms, timestamp_ms,
                             producer_id, producer_epoch, base_sequence, len(values)) + records)
    after_length = struct.pack(">ibI", -1, 2, crc32c(after_crc)) + after_crc
    return struct.pack(">qi", 0, len(after_length)) + after_length


def decode_batches(data):
    """Magic-2 batches of uncompressed records -> [dict] with base_offset,
    producer_id, producer_epoch, base_sequence, attributes, values. A partial
    batch at the end (Fetch may cut one) is ignored."""
    batches = []
    at = 0
    while at + BATCH_HEADER_BYTES <= len(data):
        base_offset, length = struct.unpack_from(">qi", data, at)
        end = at + 12 + length
        if end > len(data):
            break
        (_, magic, _, attributes, _, _, _, producer_id, producer_epoch, base_sequence,
         count) = struct.unpack_from(">ibIhiqqqhii", data, at + 12)
        assert magic == 2, f"magic {magic} at offset {base_offset}"
        assert attributes & 0x7 == 0, "compressed batch: not decoded here"
        values = []
        p = at + BATCH_HEADER_BYTES
        for _ in range(count):
            _, p = read_zigzag_varint(data, p)  # record length
            p += 1  # attributes
            _, p = read_zigzag_varint(data, p)  # timestamp delta
            _, p = read_zigzag_varint(data, p)  # offset delta
            key_length, p = read_zigzag_varint(data, p)
            p += max(key_length, 0)
            value_length, p = read_zigzag_varint(data, p)
            values.append(None if value_length < 0 else bytes(data[p:p + value_length]))
            p += max(value_length, 0)
            headers, p = read_zigzag_varint(data, p)
            for _ in range(headers):
                n, p = read_zigzag_varint(data, p)
                p += n
                n, p = read_zigzag_varint(data, p)
                p += max(n, 0)
        batches.append(dict(base_offset=base_offset, producer_id=producer_id,
                            producer_epoch=producer_epoch, base_sequence=base_sequence,
                            attributes=attributes, values=values))
        at = end
    return batches


# ---- request bodies -------------------------------------------------------------------

def produce_v7_body(topic, partition, batch, acks=-1, timeout_ms=10000, transactional_id=None):
    return (string(transactional_id) + i16(acks) + i32(timeout_ms) + i32(1) + string(topic)
            + i32(1) + i32(partition) + i32(len(batch)) + batch)


def fetch_v4_body(topic, partitions, offset, max_wait_ms, max_bytes=1 << 20):
    body = struct.pack(">iiiib", -1, max_wait_ms, 1, max_bytes, 0) + i32(1) + string(topic)
    body += i32(len(partitions))
    for p in partitions:
        body += struct.pack(">iqi", p, offset, max_bytes)
    return body


# ---- calls ----------------------------------------------------------------------------

class ProducerConnection(Connection):
    """group_protocol's blocking connection with the produce-side calls."""

    def __init__(self, port, client_id="produce-raw-test"):
        super().__init__(port, client_id)

    def call_flexible(self, api_key, version, body):
        return self.call(api_key, version, body, flexible=True)

    def init_producer_id(self, transaction_timeout_ms=60000):
        """InitProducerId v1: {error, producer_id, epoch}."""
        r = self.call(API_INIT_PRODUCER_ID, 1, string(None) + i32(transaction_timeout_ms))
        out = dict(throttle=r.i32(), error=r.i16(), producer_id=r.i64(), epoch=r.i16())
        r.done()
        return out

    def init_producer_id_v4(self, producer_id, epoch, transaction_timeout_ms=60000):
        """InitProducerId v4 (flexible) naming the current id and epoch: an epoch bump."""
        body = b"\x00" + i32(transaction_timeout_ms) + i64(producer_id) + i16(epoch) + b"\x00"
        r = self.call_flexible(API_INIT_PRODUCER_ID, 4, body)
        out = dict(throttle=r.i32(), error=r.i16(), producer_id=r.i64(), epoch=r.i16())
        assert r.take(1) == b"\x00", "tagged fields in the InitProducerId response"
        r.done()
        return out

    def produce(self, topic, partition, batch, acks=-1):
        """Produce v7 of one batch: {error, base_offset, log_start_offset}."""
        r = self.call(API_PRODUCE, 7, produce_v7_body(topic, partition, batch, acks))
        topics = r.array(lambda r: (r.string(), r.array(lambda r: dict(
            partition=r.i32(), error=r.i16(), base_offset=r.i64(), log_append_time=r.i64(),
            log_start_offset=r.i64()))))
        r.i32()  # throttle
        r.done()
        assert len(topics) == 1 and len(topics[0][1]) == 1, topics
        return topics[0][1][0]

    def fetch(self, topic, partition, offset=0, max_bytes=1 << 20):
        """Fetch v4 of one partition, no wait: {error, high_watermark, batches}."""
        r = self.call(API_FETCH, 4, fetch_v4_body(topic, [partition], offset, 0, max_bytes))
        r.i32()  # throttle
        topics = r.array(lambda r: (r.string(), r.array(lambda r: dict(
            partition=r.i32(), error=r.i16(), high_watermark=r.i64(),
            last_stable_offset=r.i64(),
            aborted=r.array(lambda r: (r.i64(), r.i64())),
            records=r.blob()))))
        r.done()
        answer = topics[0][1][0]
        answer["batches"] = decode_batches(answer.pop("records") or b"")
        return answer

    def delete_records(self, topic, partition, offset, timeout_ms=10000):
        """DeleteRecords v1 of one partition: {error, low_watermark}."""
        body = i32(1) + string(topic) + i32(1) + i32(partition) + i64(offset) + i32(timeout_ms)
        r = self.call(API_DELETE_RECORDS, 1, body)
        r.i32()  # throttle
        topics = r.array(lambda r: (r.string(), r.array(lambda r: dict(
            partition=r.i32(), low_watermark=r.i64(), error=r.i16()))))
        r.done()
        return topics[0][1][0]

#!/usr/bin/python3
"""Proves the broker's per-partition producer state rules (issue 6) with exact error
codes and log contents, on raw sockets.

Hand-built magic-2 batches carry a producer id from InitProducerId v1 (or bumped
with v4), an epoch and a base sequence (produce_protocol.py); Produce v7 answers
with an error code and a base offset, and Fetch v4 shows what the log holds. Each
case writes to a topic of its own. Checked: a resent batch is answered with its
original offset and stored once; a sequence gap is OUT_OF_ORDER_SEQUENCE_NUMBER
(45); after an epoch bump the new epoch must start at 0 (45) and the old epoch is
INVALID_PRODUCER_EPOCH (47); a producer the partition does not know must start at
sequence 0 (else UNKNOWN_PRODUCER_ID, 59); a resent batch older than the last 5
is DUPLICATE_SEQUENCE_NUMBER (46); transactional batches are INVALID_TXN_STATE
(48); a producer id with no sequence is INVALID_RECORD (87). The state survives
SIGTERM and SIGKILL restarts (a resent last batch is still a duplicate, the next
sequence still accepted); it is forgotten after producer_id_expiration_ms and
after DeleteRecords removed all of the producer's batches (59 afterwards).
"""
import sys
import time

import groups
import harness
import produce_protocol as wire
from produce_protocol import ProducerConnection

# Expiry case: producers idle this long are forgotten; the broker checks this often.
EXPIRATION_MS = 1000
EXPIRATION_CHECK_INTERVAL_MS = 100
EXPIRY_TIMEOUT_S = 30


def now_ms():
    return int(time.time() * 1000)


class RawProducer:
    """A producer id and epoch from InitProducerId v1, and the batches it built."""

    def __init__(self, conn, topic):
        answer = conn.init_producer_id()
        assert answer["error"] == wire.NONE, f"InitProducerId v1: {answer}"
        assert answer["producer_id"] >= 0 and answer["epoch"] >= 0, answer
        self.conn, self.topic = conn, topic
        self.producer_id, self.epoch = answer["producer_id"], answer["epoch"]

    def batch(self, sequence, count=2, epoch=None, attributes=0):
        """A batch of `count` records with values '{producer}-{epoch}-{sequence}'."""
        epoch = self.epoch if epoch is None else epoch
        values = [f"{self.producer_id}-{epoch}-{sequence + i}".encode() for i in range(count)]
        return wire.record_batch(values, now_ms(), self.producer_id, epoch, sequence, attributes)

    def send(self, batch, partition=0):
        """(error, base_offset) of one Produce v7 with acks=-1."""
        answer = self.conn.produce(self.topic, partition, batch)
        return answer["error"], answer["base_offset"]

    def accepted(self, batch):
        error, offset = self.send(batch)
        assert error == wire.NONE, f"error {error}, want 0"
        return offset


def new_topic(broker):
    topic = harness.unique_topic("idem-raw")
    groups.create_topic(broker.bootstrap, topic, 1)
    return topic


def log_of(conn, topic):
    """Every batch of partition 0, from offset 0 (Fetch v4 until the high watermark)."""
    batches, offset = [], 0
    while True:
        answer = conn.fetch(topic, 0, offset)
        assert answer["error"] == wire.NONE, f"fetch: error {answer['error']}"
        batches += answer["batches"]
        if not answer["batches"] or answer["high_watermark"] <= offset:
            return batches
        last = answer["batches"][-1]
        offset = last["base_offset"] + len(last["values"])
        if offset >= answer["high_watermark"]:
            return batches


def stored_values(conn, topic):
    return [v for b in log_of(conn, topic) for v in b["values"]]


def expect_error(producer, batch, want, what):
    error, _ = producer.send(batch)
    assert error == want, f"{what}: error {error}, want {want}"


# ---- cases ------------------------------------------------------------------------

def init_producer_id(broker):
    with ProducerConnection(broker.port) as conn:
        first = conn.init_producer_id()
        second = conn.init_producer_id()
    for answer in (first, second):
        assert answer["error"] == wire.NONE and answer["producer_id"] >= 0, answer
    assert first["producer_id"] != second["producer_id"], \
        f"two InitProducerId v1 calls (no transactional id) gave one producer id: {first}"


def resent_batch_is_duplicate(broker):
    topic = new_topic(broker)
    with ProducerConnection(broker.port) as conn:
        producer = RawProducer(conn, topic)
        first = producer.batch(0, count=3)
        offset = producer.accepted(first)
        error, again = producer.send(first)
        assert (error, again) == (wire.NONE, offset), \
            f"resent batch: error {error} at offset {again}, want 0 at {offset}"
        batches = log_of(conn, topic)
        assert len(batches) == 1 and len(batches[0]["values"]) == 3, \
            f"the log holds {[(b['base_offset'], len(b['values'])) for b in batches]}"
        stored = batches[0]
        assert (stored["producer_id"], stored["producer_epoch"], stored["base_sequence"]) == \
            (producer.producer_id, producer.epoch, 0), stored
        next_offset = producer.accepted(producer.batch(3))
        assert next_offset == offset + 3, f"next batch at {next_offset}, want {offset + 3}"


def sequence_gap(broker):
    topic = new_topic(broker)
    with ProducerConnection(broker.port) as conn:
        producer = RawProducer(conn, topic)
        producer.accepted(producer.batch(0, count=3))
        expect_error(producer, producer.batch(5), wire.OUT_OF_ORDER_SEQUENCE_NUMBER,
                     "sequence 5 after 0-2")
        expect_error(producer, producer.batch(2), wire.OUT_OF_ORDER_SEQUENCE_NUMBER,
                     "sequence 2-3, overlapping 0-2")
        assert len(stored_values(conn, topic)) == 3, "a refused batch was stored"
        producer.accepted(producer.batch(3))  # the refusals changed nothing


def epoch_bump(broker):
    topic = new_topic(broker)
    with ProducerConnection(broker.port) as conn:
        producer = RawProducer(conn, topic)
        old_epoch = producer.epoch
        producer.accepted(producer.batch(0))
        producer.accepted(producer.batch(2))
        bumped = conn.init_producer_id_v4(producer.producer_id, old_epoch)
        assert bumped["error"] == wire.NONE, f"InitProducerId v4 bump: {bumped}"
        assert (bumped["producer_id"], bumped["epoch"]) == (producer.producer_id, old_epoch + 1), \
            f"bump of ({producer.producer_id}, {old_epoch}) gave {bumped}"
        producer.epoch = bumped["epoch"]
        expect_error(producer, producer.batch(4), wire.OUT_OF_ORDER_SEQUENCE_NUMBER,
                     "new epoch starting at sequence 4")
        producer.accepted(producer.batch(0))
        expect_error(producer, producer.batch(4, epoch=old_epoch), wire.INVALID_PRODUCER_EPOCH,
                     "old epoch after the bump")
        expect_error(producer, producer.batch(2, epoch=old_epoch), wire.INVALID_PRODUCER_EPOCH,
                     "old epoch, next sequence of the new epoch")
        producer.accepted(producer.batch(2))
        assert len(stored_values(conn, topic)) == 8, "refused batches were stored"


def unknown_producer(broker):
    topic = new_topic(broker)
    with ProducerConnection(broker.port) as conn:
        producer = RawProducer(conn, topic)
        expect_error(producer, producer.batch(5), wire.UNKNOWN_PRODUCER_ID,
                     "unknown producer at sequence 5")
        assert stored_values(conn, topic) == [], "the refused batch was stored"
        producer.accepted(producer.batch(0))
        producer.accepted(producer.batch(2))


def old_duplicate(broker):
    """Six batches; the first is no longer among the last 5: 46. The second still
    is: its original offset. Neither is stored again."""
    topic = new_topic(broker)
    with ProducerConnection(broker.port) as conn:
        producer = RawProducer(conn, topic)
        batches = [producer.batch(2 * i) for i in range(6)]
        offsets = [producer.accepted(b) for b in batches]
        expect_error(producer, batches[0], wire.DUPLICATE_SEQUENCE_NUMBER,
                     "resent batch 6 batches old")
        error, offset = producer.send(batches[1])
        assert (error, offset) == (wire.NONE, offsets[1]), \
            f"resent batch 5 batches old: error {error} at {offset}, want 0 at {offsets[1]}"
        assert len(stored_values(conn, topic)) == 12, "a resent batch was stored again"
        producer.accepted(producer.batch(12))


def transactional_batch(broker):
    topic = new_topic(broker)
    with ProducerConnection(broker.port) as conn:
        producer = RawProducer(conn, topic)
        expect_error(producer, producer.batch(0, attributes=wire.ATTRIBUTE_TRANSACTIONAL),
                     wire.INVALID_TXN_STATE, "transactional batch")
        assert stored_values(conn, topic) == [], "the transactional batch was stored"


def producer_id_without_sequence(broker):
    topic = new_topic(broker)
    with ProducerConnection(broker.port) as conn:
        producer = RawProducer(conn, topic)
        expect_error(producer, producer.batch(-1), wire.INVALID_RECORD,
                     "producer id with base sequence -1")
        assert stored_values(conn, topic) == [], "the batch was stored"


def delete_records_forgets(broker):
    topic = new_topic(broker)
    with ProducerConnection(broker.port) as conn:
        producer = RawProducer(conn, topic)
        producer.accepted(producer.batch(0))
        producer.accepted(producer.batch(2))
        end = conn.fetch(topic, 0)["high_watermark"]
        answer = conn.delete_records(topic, 0, end)
        assert answer == dict(partition=0, low_watermark=end, error=wire.NONE), answer
        expect_error(producer, producer.batch(4), wire.UNKNOWN_PRODUCER_ID,
                     "next sequence after DeleteRecords removed every batch")
        offset = producer.accepted(producer.batch(0))
        assert offset == end, f"sequence 0 appended at {offset}, want {end}"


def survives_restart(broker, hard):
    """Batches, then a restart (SIGTERM with exit 0, or SIGKILL); on a new
    connection the last batch resent is a duplicate and the next one is accepted."""
    topic = new_topic(broker)
    with ProducerConnection(broker.port) as conn:
        producer = RawProducer(conn, topic)
        batches = [producer.batch(2 * i) for i in range(4)]
        offsets = [producer.accepted(b) for b in batches]
    broker.restart(hard=hard)
    with ProducerConnection(broker.port) as conn:
        producer.conn = conn
        error, offset = producer.send(batches[-1])
        assert (error, offset) == (wire.NONE, offsets[-1]), \
            f"last batch resent after the restart: error {error} at {offset}, " \
            f"want 0 at {offsets[-1]}"
        assert len(stored_values(conn, topic)) == 8, "the resent batch was stored again"
        expect_error(producer, producer.batch(10), wire.OUT_OF_ORDER_SEQUENCE_NUMBER,
                     "a gap after the restart")
        offset = producer.accepted(producer.batch(8))
        assert offset == offsets[-1] + 2, f"next batch at {offset}, want {offsets[-1] + 2}"


def expiry(_):
    """A broker that forgets producers idle for EXPIRATION_MS. The probe is a batch
    with a sequence gap, which changes no state: 45 while the producer is known,
    59 once it expired. Then sequence 0 starts it again."""
    broker = harness.Broker(name="expiry", producer_id_expiration_ms=EXPIRATION_MS,
                            producer_id_expiration_check_interval_ms=EXPIRATION_CHECK_INTERVAL_MS)
    try:
        broker.start()
        topic = new_topic(broker)
        with ProducerConnection(broker.port) as conn:
            producer = RawProducer(conn, topic)
            producer.accepted(producer.batch(0))
            seen = []

            def expired():
                error, _ = producer.send(producer.batch(10))
                seen.append(error)
                assert error in (wire.OUT_OF_ORDER_SEQUENCE_NUMBER, wire.UNKNOWN_PRODUCER_ID), \
                    f"gap probe: error {error}, want 45 (known) or 59 (expired)"
                return error == wire.UNKNOWN_PRODUCER_ID
            harness.deadline_poll(expired, EXPIRY_TIMEOUT_S,
                                  f"the producer to expire ({EXPIRATION_MS} ms idle)",
                                  interval_s=0.1)
            print(f"# expired after {len(seen)} probes (100 ms apart)", flush=True)
            expect_error(producer, producer.batch(2), wire.UNKNOWN_PRODUCER_ID,
                         "next sequence after expiry")
            producer.accepted(producer.batch(0))
            assert len(stored_values(conn, topic)) == 4
        broker.stop()
    finally:
        broker.close()


def main():
    harness.run_cases([
        ("InitProducerId v1 answers a producer id; two calls, two ids", init_producer_id),
        ("an identical batch resent gets error 0 and its original offset, stored once",
         resent_batch_is_duplicate),
        ("a sequence gap or overlap gets OUT_OF_ORDER_SEQUENCE_NUMBER (45), nothing stored",
         sequence_gap),
        ("InitProducerId v4 bumps the epoch; new epoch starts at 0 (else 45); the old "
         "epoch gets INVALID_PRODUCER_EPOCH (47)", epoch_bump),
        ("an unknown producer at sequence 5 gets UNKNOWN_PRODUCER_ID (59); at 0 accepted",
         unknown_producer),
        ("a resent batch 6 batches old gets DUPLICATE_SEQUENCE_NUMBER (46); 5 old its offset",
         old_duplicate),
        ("a transactional batch gets INVALID_TXN_STATE (48)", transactional_batch),
        ("a producer id with base sequence -1 gets INVALID_RECORD (87)",
         producer_id_without_sequence),
        ("after DeleteRecords past all its batches a producer gets 59 for sequence 4",
         delete_records_forgets),
        ("producer state survives SIGTERM: last batch resent is a duplicate, next accepted",
         lambda b: survives_restart(b, hard=False)),
        ("producer state survives SIGKILL: last batch resent is a duplicate, next accepted",
         lambda b: survives_restart(b, hard=True)),
        (f"a producer idle for producer_id_expiration_ms ({EXPIRATION_MS}) is forgotten: 59",
         expiry),
    ])


if __name__ == "__main__":
    sys.exit(main())

// kafkajs 2.2.4 operations for the client integration tests (run by harness.kafkajs).
//
// Usage: node kafkajs_client.js '{"op": ..., "brokers": [...], ...}'. Prints one JSON
// line with the result; exits non-zero with the error on stderr. "fetch" reads
// through kafkajs's own Cluster/Broker classes: the real kafkajs Fetch request and
// record-batch decoder (codecs included), without the group machinery;
// "groupConsume" and "groupJoinError" are kafkajs consumer groups.
'use strict'

const { Kafka, CompressionTypes, CompressionCodecs, logLevel } = require('kafkajs')
const Cluster = require('kafkajs/src/cluster')
const { createLogger } = require('kafkajs/src/loggers')
const LoggerConsole = require('kafkajs/src/loggers/console')
const socketFactory = require('kafkajs/src/network/socketFactory')

try {
  CompressionCodecs[CompressionTypes.Snappy] = require('kafkajs-snappy')
} catch (e) {
  // snappy stays unregistered; the tests skip it
}

const CODECS = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
  lz4: CompressionTypes.LZ4,
  zstd: CompressionTypes.ZSTD,
}

const client = request =>
  new Kafka({
    clientId: 'tidelog-itest-kafkajs',
    brokers: request.brokers,
    logLevel: logLevel.NOTHING,
    retry: { retries: request.retries ?? 5 },
  })

const toBuffer = v => (v === null || v === undefined ? null : Buffer.from(v))
const fromBuffer = b => (b === null || b === undefined ? null : b.toString())

async function produce(request) {
  const producer = client(request).producer({
    allowAutoTopicCreation: request.allowAutoTopicCreation ?? true,
  })
  await producer.connect()
  try {
    const result = await producer.send({
      topic: request.topic,
      acks: request.acks ?? -1,
      compression: CODECS[request.codec ?? 'none'],
      messages: request.messages.map(m => ({
        key: toBuffer(m.key),
        value: toBuffer(m.value),
        partition: m.partition,
        timestamp: m.timestamp === undefined ? undefined : String(m.timestamp),
        headers: Object.fromEntries(Object.entries(m.headers ?? {}).map(([k, v]) => [k, v])),
      })),
    })
    return result.map(r => ({
      partition: r.partition,
      errorCode: r.errorCode,
      baseOffset: r.baseOffset === undefined ? null : Number(r.baseOffset),
    }))
  } finally {
    await producer.disconnect()
  }
}

// An idempotent producer (kafkajs `idempotent: true`) sending request.count records
// one send() at a time, request.perSend records per send, record i to partition
// i % request.partitions with value `${tag}-${i}`. Sends are awaited one by one:
// kafkajs rolls a partition's sequence back when a request fails, so concurrent
// send() calls could reuse the sequences of a batch the broker already holds.
// kafkajs itself allows one Produce per broker in flight when idempotent (its
// eosManager lock), whatever maxInFlightRequests says. Returns each send's base
// offset per partition ({partition: offset}), in send order.
async function idempotentProduce(request) {
  const producer = client(request).producer({
    idempotent: request.idempotent ?? true,
    allowAutoTopicCreation: false,
    // Each fault closes the connection; retry soon (kafkajs's default first
    // wait is 300 ms, growing to 30 s) and a bounded number of times, so that
    // a broker that never accepts the retry fails the case instead of hanging.
    retry: { retries: request.retries ?? 30, initialRetryTime: 50, maxRetryTime: 1000 },
  })
  await producer.connect()
  const bases = []
  try {
    for (let first = 0; first < request.count; first += request.perSend) {
      const indexes = []
      for (let i = first; i < Math.min(first + request.perSend, request.count); i++) indexes.push(i)
      const result = await producer.send({
        topic: request.topic,
        acks: -1,
        messages: indexes.map(i => ({ value: `${request.tag}-${i}`, partition: i % request.partitions })),
      })
      bases.push(Object.fromEntries(result.map(r => [r.partition, Number(r.baseOffset)])))
    }
    return { bases }
  } finally {
    await producer.disconnect()
  }
}

async function offsets(request) {
  const admin = client(request).admin()
  await admin.connect()
  try {
    const found = await admin.fetchTopicOffsets(request.topic)
    const byTime =
      request.timestamp === undefined
        ? null
        : await admin.fetchTopicOffsetsByTimestamp(request.topic, request.timestamp)
    const topics = await admin.listTopics()
    return {
      offsets: found.map(p => ({
        partition: p.partition,
        low: Number(p.low),
        high: Number(p.high),
      })),
      byTime: byTime && byTime.map(p => ({ partition: p.partition, offset: Number(p.offset) })),
      topics,
    }
  } finally {
    await admin.disconnect()
  }
}

// Reads every partition of the topic from offset 0 until `expected` records or the deadline.
async function fetch(request) {
  const cluster = new Cluster({
    logger: createLogger({ level: logLevel.NOTHING, logCreator: LoggerConsole }),
    socketFactory: socketFactory(),
    brokers: request.brokers,
    clientId: 'tidelog-itest-kafkajs-fetch',
    connectionTimeout: 3000,
    requestTimeout: 30000,
    enforceRequestTimeout: true,
    allowAutoTopicCreation: false,
    retry: { retries: 5 },
  })
  await cluster.connect()
  try {
    await cluster.addTargetTopic(request.topic)
    await cluster.refreshMetadata()
    const partitions = cluster.findTopicPartitionMetadata(request.topic).map(p => p.partitionId)
    const next = Object.fromEntries(partitions.map(p => [p, '0']))
    const records = []
    const deadline = Date.now() + (request.timeoutMs ?? 20000)
    while (records.length < request.expected && Date.now() < deadline) {
      const leaders = cluster.findLeaderForPartitions(request.topic, partitions)
      for (const [nodeId, leaderPartitions] of Object.entries(leaders)) {
        const broker = await cluster.findBroker({ nodeId })
        const response = await broker.fetch({
          replicaId: -1,
          isolationLevel: 1,
          maxWaitTime: 500,
          minBytes: 1,
          maxBytes: 10485760,
          topics: [
            {
              topic: request.topic,
              partitions: leaderPartitions.map(partition => ({
                partition,
                fetchOffset: next[partition],
                maxBytes: 1048576,
              })),
            },
          ],
        })
        for (const topic of response.responses) {
          for (const p of topic.partitions) {
            if (p.errorCode !== 0) throw new Error(`fetch partition ${p.partition}: error ${p.errorCode}`)
            for (const m of p.messages) {
              if (BigInt(m.offset) < BigInt(next[p.partition])) continue
              records.push({
                partition: p.partition,
                offset: Number(m.offset),
                key: fromBuffer(m.key),
                value: fromBuffer(m.value),
                timestamp: Number(m.timestamp),
                headers: Object.fromEntries(
                  Object.entries(m.headers ?? {}).map(([k, v]) => [k, fromBuffer(v)])
                ),
              })
              next[p.partition] = String(BigInt(m.offset) + 1n)
            }
          }
        }
      }
    }
    return { records }
  } finally {
    await cluster.disconnect()
  }
}

// Consumer groups: one kafkajs member (assignor RoundRobinAssigner) subscribes
// from the beginning, reads until `expected` records with eachMessage, commits
// the next offset of every partition it read (autoCommit off, commitOffsets),
// and leaves. With `hold`, it prints {"joined": ...} once in the group and stays
// until stdin closes (for a second client to join the same group).
const groupConsumer = request =>
  client(request).consumer({
    groupId: request.groupId,
    sessionTimeout: request.sessionTimeoutMs ?? 10000,
    rebalanceTimeout: request.rebalanceTimeoutMs ?? 10000,
    heartbeatInterval: 500,
    retry: { retries: request.retries ?? 5 },
  })

async function groupConsume(request) {
  const consumer = groupConsumer(request)
  const records = []
  const next = {}
  let joined = null
  let crashed = null
  consumer.on(consumer.events.GROUP_JOIN, e => {
    joined = e.payload
    if (request.hold) process.stdout.write(JSON.stringify({ joined: e.payload }) + '\n')
  })
  consumer.on(consumer.events.CRASH, e => {
    crashed = e.payload.error
  })
  await consumer.connect()
  try {
    await consumer.subscribe({ topics: [request.topic], fromBeginning: true })
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        records.push({ partition, offset: Number(message.offset) })
        next[partition] = Number(message.offset) + 1
      },
    })
    const deadline = Date.now() + (request.timeoutMs ?? 30000)
    if (request.hold) {
      await new Promise(resolve => {
        process.stdin.on('end', resolve)
        process.stdin.on('close', resolve)
        process.stdin.resume()
      })
    } else {
      while (records.length < request.expected && Date.now() < deadline && !crashed) {
        await new Promise(resolve => setTimeout(resolve, 50))
      }
    }
    if (crashed) throw crashed
    const commits = Object.entries(next).map(([partition, offset]) => ({
      topic: request.topic,
      partition: Number(partition),
      offset: String(offset),
    }))
    if (commits.length > 0) await consumer.commitOffsets(commits)
    return { records, committed: Object.fromEntries(Object.entries(next)), joined }
  } finally {
    await consumer.disconnect()
  }
}

// Joins a group expected to reject kafkajs; answers with the error kafkajs
// raised ({"error": TYPE}), or {"joined": ...} if it was let in, or
// {"timeout": true}.
async function groupJoinError(request) {
  const consumer = client(request).consumer({
    groupId: request.groupId,
    sessionTimeout: 10000,
    rebalanceTimeout: 10000,
    heartbeatInterval: 500,
    retry: { retries: 2, restartOnFailure: async () => false },
  })
  const outcome = new Promise(resolve => {
    consumer.on(consumer.events.CRASH, e =>
      resolve({ error: e.payload.error.type ?? e.payload.error.name, message: e.payload.error.message })
    )
    consumer.on(consumer.events.GROUP_JOIN, e => resolve({ joined: e.payload }))
    setTimeout(() => resolve({ timeout: true }), request.timeoutMs ?? 30000)
  })
  await consumer.connect()
  try {
    await consumer.subscribe({ topics: [request.topic], fromBeginning: true })
    await consumer.run({ eachMessage: async () => {} })
    return await outcome
  } finally {
    await consumer.disconnect()
  }
}

// The admin API round trip: create (with configs), list, describe and alter
// configs, add partitions, delete records, delete; returns what kafkajs saw.
async function admin(request) {
  const admin = client(request).admin()
  await admin.connect()
  try {
    const topic = request.topic
    const out = {}
    out.created = await admin.createTopics({
      topics: [{ topic, numPartitions: 2, configEntries: [{ name: 'retention.ms', value: '3600000' }] }],
      waitForLeaders: true,
    })
    out.createdAgain = await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] })
    out.listed = (await admin.listTopics()).includes(topic)
    const describe = async () =>
      (await admin.describeConfigs({
        resources: [{ type: 2, name: topic, configNames: ['retention.ms', 'cleanup.policy'] }],
        includeSynonyms: false,
      })).resources[0].configEntries.map(e => ({ name: e.configName, value: e.configValue, isDefault: e.isDefault }))
    out.configs = await describe()
    await admin.alterConfigs({
      validateOnly: false,
      resources: [{ type: 2, name: topic, configEntries: [{ name: 'retention.ms', value: '7200000' }] }],
    })
    out.altered = await describe()
    await admin.createPartitions({ topicPartitions: [{ topic, count: 3 }] })
    out.partitions = (await admin.fetchTopicMetadata({ topics: [topic] })).topics[0].partitions.length
    const producer = client(request).producer()
    await producer.connect()
    await producer.send({ topic, acks: -1, messages: [0, 1, 2, 3, 4].map(i => ({ value: `v${i}`, partition: 0 })) })
    await producer.disconnect()
    await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '3' }] })
    out.afterDelete = (await admin.fetchTopicOffsets(topic)).find(p => p.partition === 0)
    await admin.deleteTopics({ topics: [topic] })
    out.listedAfterDelete = (await admin.listTopics()).includes(topic)
    try {
      await admin.createTopics({ topics: [{ topic: 'bad/name', numPartitions: 1 }] })
      out.badName = 'accepted'
    } catch (e) {
      out.badName = e.type || String(e)
    }
    return out
  } finally {
    await admin.disconnect()
  }
}

async function main() {
  const request = JSON.parse(process.argv[2])
  const ops = { produce, idempotentProduce, offsets, fetch, admin, groupConsume, groupJoinError }
  const op = ops[request.op]
  if (!op) throw new Error(`unknown op ${request.op}`)
  const result = await op(request)
  process.stdout.write(JSON.stringify(result) + '\n')
}

main().then(
  () => process.exit(0),
  error => {
    process.stderr.write(`${error && error.stack ? error.stack : error}\n`)
    if (error && error.type) process.stderr.write(`kafkajs error type: ${error.type}\n`)
    process.exit(1)
  }
)

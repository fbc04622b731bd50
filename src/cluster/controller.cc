#include "cluster/controller.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "cluster/controller_frontend.h"
#include "cluster/metadata_state_machine.h"
#include "cluster/metadata_store.h"
#include "raft/driver.h"
#include "raft/log_store.h"
#include "reactor/shard.h"
#include "reactor/shard_executor.h"
#include "transport/transport.h"

namespace tl::cluster {

namespace {

// Proposals forwarded by a follower to the leader, multiplexed with Raft's
// frames on the controller transport (a Raft frame starts with
// raft::codec_version):
//   request:  0xF1 | correlation 8 | record
//   response: 0xF2 | correlation 8 | ok 1 | index 8 | error text
constexpr uint8_t forward_request_tag = 0xF1;
constexpr uint8_t forward_response_tag = 0xF2;
constexpr auto propose_timeout = std::chrono::seconds(5);
constexpr auto retry_interval = std::chrono::milliseconds(200);

raft::node_id raft_id(int32_t node_id) { return static_cast<raft::node_id>(node_id) + 1; }
int32_t kafka_id(raft::node_id id) {
    return id == raft::no_node ? -1 : static_cast<int32_t>(id - 1);
}

void put_u64(std::vector<std::byte>& out, uint64_t v) {
    const size_t at = out.size();
    out.resize(at + 8);
    std::memcpy(out.data() + at, &v, 8);
}
uint64_t get_u64(std::span<const std::byte> in, size_t at) {
    uint64_t v = 0;
    std::memcpy(&v, in.data() + at, 8);
    return v;
}

// raft::state_machine over metadata_state_machine.
class machine_adapter final : public raft::state_machine {
public:
    explicit machine_adapter(metadata_state_machine& m) : _m(m) {}
    void apply(const raft::entry& e) override {
        // The driver passes normal entries only; the state machine counts
        // every index, so the no-op and configuration entries in between are
        // applied as no-ops.
        for (raft::index_t i = _m.last_applied() + 1; i < e.index; ++i) {
            _m.apply(raft::entry{.term = e.term, .index = i, .kind = raft::entry_kind::no_op});
        }
        _m.apply(e);
    }
    std::vector<std::byte> take_snapshot() override { return _m.take_snapshot(); }
    void restore(const raft::snapshot& s) override { _m.restore(s); }

private:
    metadata_state_machine& _m;
};

// Holds images back until every shard's partition manager exists.
class gated_publisher final : public image_publisher {
public:
    explicit gated_publisher(shard_image_publisher& inner) : _inner(inner) {}
    void publish(std::shared_ptr<const metadata_image> image) override {
        _latest = image;
        if (_open) _inner.publish(std::move(image));
    }
    task<void> wait_published(int64_t version) override {
        while (!_open) co_await _opened.wait();
        co_await _inner.wait_published(version);
    }
    void open() {
        _open = true;
        if (_latest != nullptr) _inner.publish(_latest);
        _opened.notify_all();
    }

private:
    shard_image_publisher& _inner;
    std::shared_ptr<const metadata_image> _latest;
    bool _open = false;
    reactor::condition _opened;
};

}  // namespace


namespace {

// metadata_proposer over the Raft driver: the leader proposes, a follower
// forwards to the leader and waits until it applied the entry itself.
class raft_proposer final : public metadata_proposer {
public:
    raft_proposer(raft::driver& driver, transport::transport& transport,
                  const metadata_state_machine& machine, executor& executor,
                  reactor::gate& background)
        : _driver(driver),
          _transport(transport),
          _machine(machine),
          _executor(executor),
          _background(background) {}

    task<result<raft::index_t, std::string>> propose(std::vector<std::byte> record) override {
        if (_stopping) co_return failure{std::string("the controller is stopping")};
        if (_driver.is_leader()) {
            auto r = co_await _driver.propose(std::move(record), propose_timeout);
            if (!r) co_return failure{fmt::format("raft: {}", raft::to_string(r.error().code))};
            co_return *r;
        }
        const raft::node_id leader = _driver.leader();
        if (leader == raft::no_node) co_return failure{std::string("no controller leader")};
        const uint64_t correlation = ++_next_correlation;
        std::vector<std::byte> frame;
        frame.push_back(std::byte{forward_request_tag});
        put_u64(frame, correlation);
        frame.insert(frame.end(), record.begin(), record.end());
        waiter w;
        _waiters[correlation] = &w;
        if (!_transport.send(leader, frame)) {
            _waiters.erase(correlation);
            co_return failure{std::string("cannot reach the controller leader")};
        }
        co_await _executor.sleep(propose_timeout, w.wake);
        _waiters.erase(correlation);
        if (!w.outcome) co_return failure{std::string("the controller leader did not answer")};
        if (!*w.outcome) co_return failure{w.outcome->error()};
        const raft::index_t index = **w.outcome;
        // Committed at the leader: wait until this node applied it.
        while (_machine.last_applied() < index) {
            if (_stopping) co_return failure{std::string("the controller is stopping")};
            co_await _executor.sleep(std::chrono::milliseconds(2), _stop_wake);
        }
        co_return index;
    }

    task<void> wait_applied(raft::index_t index) override {
        // propose() returns once the entry is applied here.
        TL_ASSERT(_machine.last_applied() >= index);
        co_return;
    }

    void on_frame(transport::peer_id from, std::span<const std::byte> frame) {
        if (frame.size() < 9) return;
        const auto tag = std::to_integer<uint8_t>(frame[0]);
        const uint64_t correlation = get_u64(frame, 1);
        if (tag == forward_request_tag) {
            if (_stopping) return;
            std::vector<std::byte> record(frame.begin() + 9, frame.end());
            _background.spawn(serve(from, correlation, std::move(record)));
        } else if (tag == forward_response_tag && frame.size() >= 18) {
            const auto it = _waiters.find(correlation);
            if (it == _waiters.end()) return;
            const bool ok = std::to_integer<uint8_t>(frame[9]) != 0;
            if (ok) {
                it->second->outcome = result<raft::index_t, std::string>(get_u64(frame, 10));
            } else {
                std::string text(reinterpret_cast<const char*>(frame.data() + 18),
                                 frame.size() - 18);
                it->second->outcome = result<raft::index_t, std::string>(failure{std::move(text)});
            }
            it->second->wake.fire();
        }
    }

    void stop() {
        _stopping = true;
        _stop_wake.fire();
        for (auto& [c, w] : _waiters) w->wake.fire();
    }

private:
    struct waiter {
        wakeup wake;
        std::optional<result<raft::index_t, std::string>> outcome;
    };

    task<void> serve(transport::peer_id from, uint64_t correlation, std::vector<std::byte> record) {
        std::vector<std::byte> reply;
        reply.push_back(std::byte{forward_response_tag});
        put_u64(reply, correlation);
        if (!_driver.is_leader()) {
            reply.push_back(std::byte{0});
            put_u64(reply, 0);
            const std::string_view text = "not the controller leader";
            for (char c : text) reply.push_back(static_cast<std::byte>(c));
        } else {
            auto r = co_await _driver.propose(std::move(record), propose_timeout);
            reply.push_back(std::byte{r ? uint8_t{1} : uint8_t{0}});
            put_u64(reply, r ? *r : 0);
            if (!r) {
                const std::string text =
                    fmt::format("raft at the leader: {}", raft::to_string(r.error().code));
                for (char c : text) reply.push_back(static_cast<std::byte>(c));
            }
        }
        if (!_stopping) _transport.send(from, reply);
    }

    raft::driver& _driver;
    transport::transport& _transport;
    const metadata_state_machine& _machine;
    executor& _executor;
    reactor::gate& _background;
    std::map<uint64_t, waiter*> _waiters;
    uint64_t _next_correlation = 0;
    bool _stopping = false;
    wakeup _stop_wake;
};

}  // namespace

struct controller::parts {
    reactor::shard_executor executor;
    std::unique_ptr<shard_image_publisher> shards;
    std::unique_ptr<gated_publisher> publisher;
    std::unique_ptr<metadata_state_machine> machine;
    std::unique_ptr<raft::log_store> store;
    std::unique_ptr<transport::transport> transport;
    std::unique_ptr<machine_adapter> adapter;
    std::unique_ptr<raft::driver> driver;
    std::unique_ptr<raft_proposer> proposer;
    std::unique_ptr<controller_frontend> frontend;
    reactor::gate background;
    wakeup stop_wake;
    bool stopping = false;
    bool driver_running = false;
    bool driver_done = false;
};

controller::controller(storage::disk& disk, controller_settings settings,
                       std::span<partition_manager* const> managers)
    : _disk(disk), _settings(std::move(settings)), _managers(managers) {}

controller::~controller() = default;

std::shared_ptr<const metadata_image> controller::image() const {
    return _parts->machine->image();
}

controller_status controller::status() const {
    std::lock_guard lock(_status_mutex);
    return _status;
}

task<result<void, std::string>> controller::start() {
    _parts = std::make_unique<parts>();
    parts& p = *_parts;
    const bool alone = _settings.voters.empty();
    raft::configuration voters;
    if (alone) {
        voters.voters.push_back(raft_id(_settings.node_id));
    } else {
        for (const auto& v : _settings.voters) voters.voters.push_back(raft_id(v.node_id));
    }

    p.shards = std::make_unique<shard_image_publisher>(_managers);
    p.publisher = std::make_unique<gated_publisher>(*p.shards);
    gated_publisher* publisher = p.publisher.get();
    p.machine = std::make_unique<metadata_state_machine>(
        image_options{.defaults = _settings.defaults,
                      .storage_base = _settings.storage_base,
                      .shard_count = _settings.shard_count,
                      .local_node = _settings.node_id},
        [publisher](std::shared_ptr<const metadata_image> image) {
            publisher->publish(std::move(image));
        });

    const std::string directory = _settings.data_dir + "/controller";
    auto opened = co_await raft::log_store::open(_disk, directory);
    if (!opened) co_return failure{fmt::format("controller log in {}: {}", directory, opened.error())};
    p.store = std::move(*opened);

    // A new log: bootstrap it, from the local controller's file if there is one.
    const raft::durable_state& now = p.store->recovered();
    const bool pristine = now.hard == raft::hard_state{} &&
                          now.snapshot.meta == raft::snapshot_meta{} && now.entries.empty() &&
                          p.store->last_index() == 0;
    auto legacy = co_await load_metadata(_disk, _settings.data_dir);
    if (!legacy) {
        co_return failure{fmt::format("cluster metadata in {}: {}", _settings.data_dir,
                                      legacy.error().message())};
    }
    if (pristine) {
        std::vector<std::byte> data;
        if (legacy->has_value()) {
            if (!alone) {
                co_return failure{fmt::format(
                    "{}/cluster/metadata (a single-node broker's metadata) cannot seed a "
                    "controller quorum; start with controller_voters empty first",
                    _settings.data_dir)};
            }
            auto seeded = metadata_state_machine::snapshot_from_legacy(std::move(**legacy),
                                                                       _settings.node_id);
            if (!seeded) co_return failure{fmt::format("cluster metadata: {}", seeded.error())};
            data = std::move(*seeded);
            spdlog::info("controller: bootstrapping the metadata log from {}/cluster/metadata",
                         _settings.data_dir);
        }
        if (auto b = co_await raft::bootstrap(*p.store, voters, std::move(data)); !b) {
            co_return failure{fmt::format("controller log in {}: {}", directory, b.error())};
        }
    }
    if (legacy->has_value() && !_settings.voters.size()) {
        // The Raft snapshot holding it is durable: retire the old file.
        const std::string file = _settings.data_dir + "/cluster/metadata";
        if (auto renamed = co_await _disk.rename(file, file + ".migrated"); !renamed) {
            spdlog::warn("controller: cannot rename {}: {}", file, renamed.error().message());
        }
    }

    auto& ring = reactor::shard::local().io();
    p.transport = std::make_unique<transport::transport>(
        ring, p.executor, transport::transport_options{.self = raft_id(_settings.node_id)});
    for (const auto& v : _settings.voters) {
        if (v.node_id == _settings.node_id) continue;
        p.transport->add_peer(raft_id(v.node_id), v.address);
    }

    raft::driver_options options;
    options.raft.id = raft_id(_settings.node_id);
    options.raft.random_seed = std::random_device{}();
    if (alone) {
        // One voter wins at once: do not make every start wait long.
        options.tick_interval = std::chrono::milliseconds(10);
        options.raft.election_ticks = 2;
    } else {
        options.tick_interval = _settings.tick_interval;
        options.raft.election_ticks = _settings.election_ticks;
    }
    p.adapter = std::make_unique<machine_adapter>(*p.machine);
    p.driver = std::make_unique<raft::driver>(options, *p.store, *p.transport, *p.adapter,
                                              p.executor);
    p.proposer = std::make_unique<raft_proposer>(*p.driver, *p.transport, *p.machine, p.executor,
                                                 p.background);
    raft_proposer* proposer = p.proposer.get();
    p.driver->on_foreign_frame([proposer](transport::peer_id from, std::span<const std::byte> f) {
        proposer->on_frame(from, f);
    });
    for (const auto& v : _settings.voters) {
        if (v.node_id != _settings.node_id) continue;
        // The driver sets the frame handler when it runs: before any frame can arrive.
        p.transport->on_frame([](transport::peer_id, std::span<const std::byte>) {});
        if (auto listening = p.transport->listen(v.address); !listening) {
            co_return failure{fmt::format("controller listener {}: {}", v.address.to_string(),
                                          listening.error())};
        }
        spdlog::info("controller: listening on {}", p.transport->local_address().to_string());
    }
    p.frontend = std::make_unique<controller_frontend>(
        frontend_settings{.node_id = _settings.node_id,
                          .max_partitions_per_topic = _settings.max_partitions_per_topic,
                          .offsets_topic_partitions = _settings.offsets_topic_partitions,
                          .offsets_topic_segment_bytes = _settings.offsets_topic_segment_bytes},
        *p.machine, *p.proposer, *p.publisher, std::random_device{}());

    // run() restores the recovered snapshot before its first suspension.
    p.driver_running = true;
    p.background.spawn([](parts& p) -> task<void> {
        co_await p.driver->run();
        p.driver_done = true;
        if (p.driver->fatal_error()) {
            spdlog::critical("controller: {}; restart the broker", *p.driver->fatal_error());
        }
    }(p));
    p.background.spawn(status_loop());
    // Replay what this node knows is committed before any shard sees an
    // image: the shards open the end state, never a past one (a topic
    // deleted and re-created under its name must not have its new logs
    // removed by a replayed deletion). A single voter also waits for its
    // election (its whole log is then committed).
    const raft::index_t known_commit = std::min(p.store->recovered().hard.commit,
                                                p.store->last_index());
    const auto deadline = p.executor.now() + std::chrono::seconds(30);
    while (p.driver->get_status().applied < known_commit ||
           (alone && (!p.driver->is_leader() ||
                      p.driver->get_status().applied < p.store->last_index()))) {
        if (p.executor.now() > deadline || p.driver_done) {
            co_return failure{fmt::format(
                "controller: the metadata log was not replayed (applied {}, known commit {}{})",
                p.driver->get_status().applied, known_commit,
                alone ? ", single voter not elected" : "")};
        }
        co_await p.executor.sleep(std::chrono::milliseconds(1));
    }
    co_return result<void, std::string>{};
}

task<result<void, std::string>> controller::activate() {
    parts& p = *_parts;
    p.publisher->open();
    const broker_record self{.node_id = _settings.node_id,
                             .host = _settings.advertised_host,
                             .port = _settings.advertised_port,
                             .rack = std::nullopt,
                             .incarnation = 0};
    if (_settings.voters.empty()) {
        auto done = co_await p.frontend->bootstrap(self);
        if (!done) co_return failure{fmt::format("controller: {}", done.error())};
        co_return result<void, std::string>{};
    }
    p.background.spawn(register_loop());
    co_return result<void, std::string>{};
}

task<void> controller::register_loop() {
    parts& p = *_parts;
    const broker_record self{.node_id = _settings.node_id,
                             .host = _settings.advertised_host,
                             .port = _settings.advertised_port,
                             .rack = std::nullopt,
                             .incarnation = 0};
    while (!p.stopping) {
        auto done = co_await p.frontend->bootstrap(self);
        if (done) {
            spdlog::info("controller: node {} registered", _settings.node_id);
            co_return;
        }
        spdlog::debug("controller: registration not committed yet: {}", done.error());
        co_await p.executor.sleep(retry_interval, p.stop_wake);
    }
}

task<void> controller::status_loop() {
    parts& p = *_parts;
    while (!p.stopping) {
        const raft::status s = p.driver->get_status();
        controller_status next;
        next.leader = kafka_id(s.leader);
        next.term = s.term;
        next.commit_index = s.commit;
        next.applied_index = s.applied;
        next.role = std::string(raft::to_string(s.role));
        for (raft::node_id v : s.configuration.voters) next.voters.push_back(kafka_id(v));
        _leader.store(next.leader, std::memory_order_relaxed);
        if (_settings.on_status) _settings.on_status(next);
        {
            std::lock_guard lock(_status_mutex);
            _status = std::move(next);
        }
        co_await p.executor.sleep(std::chrono::milliseconds(20), p.stop_wake);
    }
}

task<void> controller::stop() {
    if (_parts == nullptr || _parts->stopping) co_return;
    parts& p = *_parts;
    p.stopping = true;
    p.stop_wake.fire();
    if (p.proposer) p.proposer->stop();
    if (p.driver && p.driver_running) co_await p.driver->stop();
    if (p.transport) co_await p.transport->stop();
    co_await p.background.wait();
    co_await p.shards->stop();
    if (p.store) co_await p.store->close();
    _leader.store(-1, std::memory_order_relaxed);
}

task<std::vector<topic_change_outcome>> controller::create_topics(std::vector<new_topic> topics,
                                                                  bool validate_only) {
    co_return co_await _parts->frontend->create_topics(std::move(topics), validate_only);
}

task<std::vector<topic_change_outcome>> controller::delete_topics(std::vector<std::string> names) {
    co_return co_await _parts->frontend->delete_topics(std::move(names));
}

task<std::vector<controller_error>> controller::create_partitions(
    std::vector<partition_increase> changes, bool validate_only) {
    co_return co_await _parts->frontend->create_partitions(std::move(changes), validate_only);
}

task<controller_error> controller::alter_config(std::string name, config_edit edit,
                                                bool validate_only) {
    co_return co_await _parts->frontend->alter_config(std::move(name), std::move(edit),
                                                      validate_only);
}

task<result<producer_id_block, controller_error>> controller::allocate_producer_ids(int32_t count) {
    TL_ASSERT(count > 0, "a producer id block holds at least one id");
    co_return co_await _parts->frontend->allocate_producer_ids(count);
}

}  // namespace tl::cluster

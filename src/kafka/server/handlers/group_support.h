// What the group handlers share: finding a group's coordinator shard, and
// waiting on the request's own shard for a JoinGroup/SyncGroup answer.
//
//   auto where = route_group(context, group_id);      // nullopt: no __consumer_offsets
//   group_wait wait(context, request.conn);           // registered here, on this shard
//   co_await reactor::submit_to(where->shard, [&] { ...->join(..., wait.address()); });
//   if (!co_await wait.join()) co_return response::no_response();  // connection closed
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "kafka/groups/group_coordinator.h"
#include "kafka/server/broker_context.h"

namespace tl::kafka {

namespace group_error = groups::group_errors;

[[nodiscard]] inline std::optional<groups::group_location> route_group(
    const broker_context& context, std::string_view group_id) {
    return groups::locate(*context.image(), group_id);
}

// Kafka's client_host: InetAddress.toString() of the peer, "/127.0.0.1".
[[nodiscard]] inline std::string client_host_of(const connection& conn) {
    std::string host = conn.peer();
    const size_t colon = host.rfind(':');
    if (colon != std::string::npos && host.find(':') == colon) host.resize(colon);
    if (host.size() >= 2 && host.front() == '[') {
        const size_t close = host.find(']');
        host = host.substr(1, close == std::string::npos ? std::string::npos : close - 1);
    }
    return "/" + host;
}

// A JoinGroup or SyncGroup waiting for its answer; the connection's abort
// wakes it too (the group then keeps the member as Kafka does: it must
// rejoin or heartbeat before its timeouts, or it is removed).
class group_wait {
public:
    group_wait(const broker_context& context, connection& conn)
        : _local(*context.local_coordinator()),
          _conn(conn),
          _shard(context.shard_id()),
          _id(_local.add_waiter(_slot)) {
        _conn.add_abort_listener(_slot.wake);
    }
    ~group_wait() {
        _conn.remove_abort_listener(_slot.wake);
        _local.remove_waiter(_id);
    }
    group_wait(const group_wait&) = delete;
    group_wait& operator=(const group_wait&) = delete;

    [[nodiscard]] groups::reply_address address() const noexcept { return {_shard, _id}; }

    // False when the connection went away first.
    task<bool> join() {
        while (!_slot.join.has_value() && !_conn.aborted()) co_await _slot.wake.wait();
        co_return _slot.join.has_value() && !_conn.aborted();
    }
    task<bool> sync() {
        while (!_slot.sync.has_value() && !_conn.aborted()) co_await _slot.wake.wait();
        co_return _slot.sync.has_value() && !_conn.aborted();
    }
    groups::join_result& join_result() { return *_slot.join; }
    groups::sync_result& sync_result() { return *_slot.sync; }

private:
    groups::group_waiter_slot _slot;
    groups::group_coordinator& _local;
    connection& _conn;
    unsigned _shard;
    uint64_t _id;
};

}  // namespace tl::kafka

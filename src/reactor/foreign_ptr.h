// foreign_ptr<T>: an owning pointer that remembers its home shard.
//
// Memory allocated on a shard is freed on that shard. Wrap an object in a
// foreign_ptr before handing it to another shard; when the foreign_ptr is
// destroyed anywhere else, the object is sent home and deleted there.
#pragma once

#include <memory>
#include <utility>

#include "reactor/shard.h"
#include "reactor/submit_to.h"

namespace tl::reactor {

template <typename T>
class foreign_ptr {
public:
    foreign_ptr() = default;
    explicit foreign_ptr(std::unique_ptr<T> object)
        : _object(std::move(object)), _home(shard::local().id()) {}
    foreign_ptr(foreign_ptr&&) noexcept = default;
    foreign_ptr& operator=(foreign_ptr&& other) noexcept {
        if (this != &other) {
            reset();
            _object = std::move(other._object);
            _home = other._home;
        }
        return *this;
    }
    ~foreign_ptr() { reset(); }

    T* get() const noexcept { return _object.get(); }
    T& operator*() const noexcept { return *_object; }
    T* operator->() const noexcept { return _object.get(); }
    explicit operator bool() const noexcept { return static_cast<bool>(_object); }
    unsigned home_shard() const noexcept { return _home; }

    void reset() {
        if (!_object) return;
        shard& here = shard::local();
        if (here.id() == _home) {
            _object.reset();
            return;
        }
        T* raw = _object.release();
        here.spawn(go_home(_home, raw));
    }

private:
    static task<void> go_home(unsigned home, T* raw) {
        co_await submit_to(home, [raw] { delete raw; });
    }

    std::unique_ptr<T> _object;
    unsigned _home = 0;
};

}  // namespace tl::reactor

// See registry.h. Everything here runs under the registry's mutex, which the
// data path never takes.
#include "metrics/registry.h"

namespace tl::metrics {

std::string escape_label_value(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    for (char c : value) {
        switch (c) {
            case '\\':
                out += "\\\\";
                break;
            case '"':
                out += "\\\"";
                break;
            case '\n':
                out += "\\n";
                break;
            default:
                out += c;
        }
    }
    return out;
}

std::string render_labels(std::initializer_list<label> labels) {
    std::string out;
    for (const label& l : labels) {
        if (!out.empty()) out += ',';
        out.append(l.name);
        out += "=\"";
        out += escape_label_value(l.value);
        out += '"';
    }
    return out;
}

registration& registration::operator=(registration&& other) noexcept {
    if (this != &other) {
        reset();
        _owner = std::exchange(other._owner, nullptr);
        _id = other._id;
    }
    return *this;
}

void registration::reset() noexcept {
    if (_owner != nullptr) std::exchange(_owner, nullptr)->remove(_id);
}

registry::~registry() {
    TL_ASSERT(_entries.empty(), "registry destroyed with series still registered");
}

registration registry::insert(entry e) {
    std::lock_guard lock(_mutex);
    const uint64_t id = _next_id++;
    _entries.emplace(id, std::move(e));
    return registration(this, id);
}

void registry::remove(uint64_t id) noexcept {
    std::lock_guard lock(_mutex);
    const size_t erased = _entries.erase(id);
    TL_ASSERT(erased == 1, "series removed twice");
}

registration registry::add(const descriptor& family, std::string labels, const counter& value) {
    TL_ASSERT(family.type == metric_type::counter);
    return insert(entry{&family, std::move(labels), &value});
}

registration registry::add(const descriptor& family, std::string labels, const gauge& value) {
    TL_ASSERT(family.type == metric_type::gauge);
    return insert(entry{&family, std::move(labels), &value});
}

registration registry::add(const descriptor& family, std::string labels, const histogram& value) {
    TL_ASSERT(family.type == metric_type::histogram);
    return insert(entry{&family, std::move(labels), &value});
}

registration registry::add(const descriptor& family, std::string labels, gauge_function value) {
    TL_ASSERT(family.type != metric_type::histogram && value != nullptr);
    return insert(entry{&family, std::move(labels), std::move(value)});
}

void registry::publish(const descriptor& family,
                       std::vector<std::pair<std::string, double>> series) {
    TL_ASSERT(family.type != metric_type::histogram);
    {
        std::lock_guard lock(_mutex);
        _published[&family].swap(series);
    }
    // `series` now holds the previous publication: freed here, outside the lock.
}

std::vector<sample> registry::collect() const {
    std::vector<sample> out;
    std::lock_guard lock(_mutex);
    out.reserve(_entries.size());
    for (const auto& [id, e] : _entries) {
        sample& s = out.emplace_back();
        s.family = e.family;
        s.labels = e.labels;
        if (const auto* c = std::get_if<const counter*>(&e.value)) {
            s.value = static_cast<double>((*c)->value());
        } else if (const auto* g = std::get_if<const gauge*>(&e.value)) {
            s.value = (*g)->value();
        } else if (const auto* h = std::get_if<const histogram*>(&e.value)) {
            s.histogram_value = (*h)->snapshot();
            s.layout = &(*h)->layout();
        } else {
            s.value = std::get<gauge_function>(e.value)();
        }
    }
    for (const auto& [family, series] : _published) {
        for (const auto& [labels, value] : series) {
            out.push_back(sample{.family = family, .labels = labels, .value = value});
        }
    }
    return out;
}

size_t registry::size() const {
    std::lock_guard lock(_mutex);
    return _entries.size();
}

}  // namespace tl::metrics

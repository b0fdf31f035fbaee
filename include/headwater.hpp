/*
 * headwater.hpp: the C++17 API of Headwater, a header-only layer over the C API (headwater.h).
 *
 * - Producer, TestBroker and Admin own their C object: move-only, freed by their destructor. A
 *   Producer's destructor stops it as dropping a producer does in every language (records not sent
 *   yet fail with CLOSED and a warning is logged): call close() first to flush.
 * - Every failure throws headwater::Error (a std::runtime_error) with the four facts every language
 *   gives: code() ("QUEUE_FULL"), number() (an hw_error_kind value), retriable(), broker_code().
 * - Names are the C names without their `hw_<object>_` prefix (hw_producer_send -> Producer::send),
 *   and configuration keys are every language's keys (snake_case or camelCase strings).
 * - Keys and values are borrowed bytes (Bytes: std::string_view, std::string, const char *,
 *   std::vector<uint8_t>, pointer + size), copied before a call returns. A Key can also be absent
 *   (nullptr, std::nullopt): no key, which partitions differently from an empty key ("").
 * - Sends return a headwater::Future (std::future's calls; waiting on it sends the record's batch at
 *   once instead of letting it linger), or take a callback, called once on a library thread.
 * - headwater::shutdown() (or a headwater::Runtime guard) stops the library's threads at the end.
 *
 * Thread safety is the C API's: a Producer may be used from many threads at once; destroying it
 * (or moving into it) must be the last call.
 */
#ifndef HEADWATER_HPP
#define HEADWATER_HPP

#if !defined(__cplusplus) || __cplusplus < 201703L
#error "headwater.hpp needs C++17 or later"
#endif

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <future>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "headwater.h"

namespace headwater {

/// The library version ("0.1.0").
inline const char *version() noexcept { return hw_version(); }

/// A failure of any call: the code string and number of tests/vectors/errors.json, whether a retry
/// may succeed, the Fluvio error code of a BROKER error, and what() = "[CODE] what happened".
class Error : public std::runtime_error {
  public:
    /// A copy of `err` (which stays the caller's).
    explicit Error(const hw_error *err)
        : std::runtime_error(err != nullptr ? hw_error_message(err) : "[OK]"),
          code_(hw_error_code(err)),
          number_(hw_error_number(err)),
          retriable_(hw_error_is_retriable(err)),
          broker_code_(hw_error_broker_code(err)) {}

    /// "CONFIG", "QUEUE_FULL", ... as every language spells it.
    std::string_view code() const noexcept { return code_; }
    /// The stable number: an hw_error_kind value (HW_ERROR_KIND_CONFIG, ...).
    int32_t number() const noexcept { return number_; }
    /// Whether retrying may succeed (transport errors, timeouts, retriable Fluvio codes).
    bool retriable() const noexcept { return retriable_; }
    /// The Fluvio error code of a BROKER error; 0 for other kinds.
    int16_t broker_code() const noexcept { return broker_code_; }

  private:
    const char *code_; // static storage (hw_error_code)
    int32_t number_;
    bool retriable_;
    int16_t broker_code_;
};

namespace detail {

/// Throws `err` as an Error (freeing it) unless it is NULL.
inline void check(hw_error *err) {
    if (err != nullptr) {
        Error e(err);
        hw_error_free(err);
        throw e;
    }
}

/// A wait as the C API takes it: negative waits nothing (as std::chrono waits do), and anything
/// past the largest finite value is capped there (HW_WAIT_FOREVER is the no-timeout overloads').
inline uint32_t timeout_ms(std::chrono::milliseconds timeout) noexcept {
    constexpr auto most = static_cast<std::chrono::milliseconds::rep>(HW_WAIT_FOREVER - 1);
    if (timeout.count() <= 0) return HW_NO_WAIT;
    return static_cast<uint32_t>(timeout.count() < most ? timeout.count() : most);
}

/// keys/values arrays of C strings viewing `options` (valid while `options` is).
struct OptionArrays {
    explicit OptionArrays(const std::map<std::string, std::string> &options) {
        keys.reserve(options.size());
        values.reserve(options.size());
        for (const auto &kv : options) {
            keys.push_back(kv.first.c_str());
            values.push_back(kv.second.c_str());
        }
    }
    std::vector<const char *> keys, values;
};

inline std::string string_or_empty(const char *s) { return s != nullptr ? std::string(s) : std::string(); }

} // namespace detail

/// Borrowed bytes: a key or a value, copied by the library before the call returns.
class Bytes {
  public:
    Bytes() noexcept = default;
    Bytes(std::string_view s) noexcept : data_(s.data()), size_(s.size()) {}
    Bytes(const std::string &s) noexcept : data_(s.data()), size_(s.size()) {}
    /// A NUL-terminated string (NULL = empty).
    Bytes(const char *s) noexcept : Bytes(s != nullptr ? std::string_view(s) : std::string_view()) {}
    Bytes(const std::vector<uint8_t> &v) noexcept : data_(v.data()), size_(v.size()) {}
    Bytes(const std::vector<char> &v) noexcept : data_(v.data()), size_(v.size()) {}
    Bytes(const void *bytes, std::size_t length) noexcept : data_(bytes), size_(length) {}

    const uint8_t *data() const noexcept { return static_cast<const uint8_t *>(data_); }
    std::size_t size() const noexcept { return size_; }

  private:
    const void *data_ = nullptr;
    std::size_t size_ = 0;
};

/// A record key: bytes, or no key at all (Key(), nullptr, std::nullopt, a NULL const char *). An
/// empty key ("") is a key: the C API's NULL-versus-empty distinction, which partitions differently.
class Key {
  public:
    Key() noexcept = default;
    Key(std::nullptr_t) noexcept {}
    Key(std::nullopt_t) noexcept {}
    Key(Bytes bytes) noexcept : bytes_(bytes), present_(true) {}
    Key(std::string_view s) noexcept : Key(Bytes(s)) {}
    Key(const std::string &s) noexcept : Key(Bytes(s)) {}
    Key(const char *s) noexcept : bytes_(s), present_(s != nullptr) {}
    Key(const std::vector<uint8_t> &v) noexcept : Key(Bytes(v)) {}
    Key(const std::vector<char> &v) noexcept : Key(Bytes(v)) {}
    template <class T> Key(const std::optional<T> &key) noexcept : present_(key.has_value()) {
        if (key) bytes_ = Bytes(*key);
    }

    bool has_value() const noexcept { return present_; }
    /// NULL for no key; never NULL for a key, even an empty one.
    const uint8_t *data() const noexcept {
        static const uint8_t empty = 0;
        if (!present_) return nullptr;
        return bytes_.data() != nullptr ? bytes_.data() : &empty;
    }
    std::size_t size() const noexcept { return present_ ? bytes_.size() : 0; }

  private:
    Bytes bytes_;
    bool present_ = false;
};

/// Where a record landed.
struct RecordMetadata {
    std::string topic;
    uint32_t partition = 0;
    /// -1 when unknown (delivery = at_most_once).
    int64_t offset = -1;
    /// Milliseconds since the epoch, as stored in the batch.
    int64_t timestamp = -1;
};

/// A record with options, for send_record and send_all. Key and value are borrowed for the call.
struct Record {
    Key key;
    Bytes value;
    /// An explicit partition, or the partitioner's choice.
    std::optional<uint32_t> partition;
    /// Milliseconds since the epoch, or now.
    std::optional<int64_t> timestamp;
};

/// Producer counters (the field names of every language).
using ProducerStats = hw_stats;
/// Broker counters.
using BrokerStats = hw_broker_counters;
/// Producer configuration: every language's keys and string values ({{"linger_ms", "10"}}).
using Config = std::map<std::string, std::string>;
/// String options of TestBroker::start, create_topic and Admin::connect (snake_case or camelCase).
using Options = std::map<std::string, std::string>;

/// A record's outcome: exactly one of `metadata` (delivered) and `error` (failed) is non-null, both
/// valid during the call only. Called once per record on a library thread (records of different
/// partitions may be reported at the same time from different threads): do not block for long, and
/// do not flush, close or destroy the producer from inside it. Exceptions it throws are dropped
/// (they cannot cross the library's C threads).
using DeliveryCallback = std::function<void(const RecordMetadata *metadata, const Error *error)>;
/// send_all's callback: as DeliveryCallback, with the record's index in the list sent.
using IndexedDeliveryCallback =
    std::function<void(std::size_t index, const RecordMetadata *metadata, const Error *error)>;

/// A record as the broker stores it (TestBroker::records).
struct StoredRecord {
    int64_t offset = 0;
    /// No value for a record without a key; a value (possibly empty) for a key.
    std::optional<std::string> key;
    std::string value;
    /// Milliseconds since the epoch (-1 if the batch carried none).
    int64_t timestamp = -1;
    uint32_t partition = 0;
    /// The codec of the batch that carried it ("none", "gzip", ...).
    std::string compression;
    int64_t batch_base_offset = 0;
};

/// A topic as Admin::list_topics reports it.
struct TopicInfo {
    std::string name;
    uint32_t partitions = 0;
    uint32_t replication = 0;
    /// The compression policy ("any", "none", "gzip", ...).
    std::string compression;
    /// -1 when the topic has none.
    int64_t retention_secs = -1;
    std::string status;
};

/// The log start and log end offsets of a partition (end = the next offset to be written).
struct Offsets {
    int64_t start = 0;
    int64_t end = 0;
};

namespace detail {

inline RecordMetadata metadata_of(const hw_record_metadata &m) {
    return RecordMetadata{string_or_empty(m.topic), m.partition, m.offset, m.timestamp};
}

inline hw_record record_of(const Record &r) noexcept {
    return hw_record{r.key.data(),
                     r.key.size(),
                     r.value.data(),
                     r.value.size(),
                     r.partition ? static_cast<int64_t>(*r.partition) : -1,
                     r.timestamp ? *r.timestamp : -1};
}

// Delivery trampolines: the C callback's ctx is a heap object made for exactly one record (or one
// send_all call), freed here once its last record is reported.

/// One send's promise and its producer's topic (owned by the C producer, which outlives every
/// delivery: freeing it waits for them).
struct PromiseSlot {
    std::promise<RecordMetadata> promise;
    const char *topic = nullptr;
};

inline void deliver_to_slot(const hw_delivery *deliveries, std::size_t n) noexcept {
    for (std::size_t i = 0; i < n; i++) {
        const hw_delivery &d = deliveries[i];
        std::unique_ptr<PromiseSlot> slot(static_cast<PromiseSlot *>(d.ctx));
        try {
            if (d.err == nullptr) {
                slot->promise.set_value(RecordMetadata{string_or_empty(slot->topic), d.partition, d.offset, d.timestamp});
            } else {
                slot->promise.set_exception(std::make_exception_ptr(Error(d.err)));
            }
        } catch (...) {
            // Out of memory while reporting: the future then reports a broken promise.
        }
    }
}

inline void deliver_to_callback(void *ctx, const hw_record_metadata *meta, const hw_error *err) noexcept {
    std::unique_ptr<DeliveryCallback> callback(static_cast<DeliveryCallback *>(ctx));
    try {
        if (meta != nullptr) {
            const RecordMetadata m = metadata_of(*meta);
            (*callback)(&m, nullptr);
        } else {
            const Error e(err);
            (*callback)(nullptr, &e);
        }
    } catch (...) {
        // Dropped: an exception cannot unwind into the library's threads.
    }
}

/// One send_all call: its records' promises or its callback, freed when the last record is
/// reported (or, for records never sent, by send_all itself).
struct SendAllState {
    struct Slot {
        SendAllState *state;
        std::size_t index;
    };
    std::string topic;
    std::vector<Slot> slots;
    std::vector<std::promise<RecordMetadata>> promises; // the futures form
    IndexedDeliveryCallback callback;                   // the callback form
    std::atomic<std::size_t> pending{0};

    /// Counts `n` records as reported; the last one frees the state.
    void reported(std::size_t n) noexcept {
        if (pending.fetch_sub(n) == n) delete this;
    }
};

inline void deliver_send_all(const hw_delivery *deliveries, std::size_t n) noexcept {
    for (std::size_t i = 0; i < n; i++) {
        const hw_delivery &d = deliveries[i];
        auto *slot = static_cast<SendAllState::Slot *>(d.ctx);
        SendAllState *state = slot->state;
        try {
            if (d.err == nullptr) {
                const RecordMetadata m{state->topic, d.partition, d.offset, d.timestamp};
                if (state->callback) {
                    state->callback(slot->index, &m, nullptr);
                } else {
                    state->promises[slot->index].set_value(m);
                }
            } else {
                const Error e(d.err);
                if (state->callback) {
                    state->callback(slot->index, nullptr, &e);
                } else {
                    state->promises[slot->index].set_exception(std::make_exception_ptr(e));
                }
            }
        } catch (...) {
            // As deliver_to_callback: nothing may unwind into the library.
        }
        state->reported(1);
    }
}

/// A C configuration from `config`; a bad key or value throws a CONFIG error naming the key.
inline std::unique_ptr<hw_config, void (*)(hw_config *)> make_config(const Config &config) {
    std::unique_ptr<hw_config, void (*)(hw_config *)> cfg(hw_config_new(), hw_config_free);
    if (!cfg) throw std::bad_alloc();
    for (const auto &kv : config) check(hw_config_set(cfg.get(), kv.first.c_str(), kv.second.c_str()));
    return cfg;
}

} // namespace detail

/// A send's result: std::future's calls, and waiting sends the record's batch at once. A batch
/// otherwise lingers up to linger_ms to collect more records, which suits records nobody waits for
/// yet; a caller waiting on one record needs it now. So the first get(), wait(), wait_for() or
/// wait_until() on a record still in an open batch seals that batch, as waiting does in every other
/// language (futures collected first and waited on after all the sends still get whole batches).
/// Move-only, like std::future. Wait on it while its Producer exists or after it was destroyed,
/// not while another thread destroys it.
class Future {
  public:
    Future() noexcept = default;
    Future(Future &&) noexcept = default;
    Future &operator=(Future &&) noexcept = default;
    Future(const Future &) = delete;
    Future &operator=(const Future &) = delete;

    bool valid() const noexcept { return future_.valid(); }
    /// The record's metadata, or its Error thrown.
    RecordMetadata get() {
        send_now();
        return future_.get();
    }
    void wait() const {
        send_now();
        future_.wait();
    }
    template <class Rep, class Period>
    std::future_status wait_for(const std::chrono::duration<Rep, Period> &timeout) const {
        send_now();
        return future_.wait_for(timeout);
    }
    template <class Clock, class Duration>
    std::future_status wait_until(const std::chrono::time_point<Clock, Duration> &deadline) const {
        send_now();
        return future_.wait_until(deadline);
    }
    /// The std::future itself, for code written against it (waiting on that one lets the batch linger).
    std::future<RecordMetadata> release() && noexcept {
        producer_ = nullptr;
        return std::move(future_);
    }

  private:
    friend class Producer;
    Future(std::future<RecordMetadata> future, hw_producer *producer, uint32_t partition, uint64_t batch) noexcept
        : future_(std::move(future)), producer_(producer), partition_(partition), batch_(batch) {}

    /// Once: seals the record's batch if the record is still pending. A record already reported needs
    /// nothing, and the producer may be gone by then (freeing it reports every record first).
    void send_now() const noexcept {
        hw_producer *p = std::exchange(producer_, nullptr);
        if (p == nullptr || !future_.valid()) return;
        if (future_.wait_for(std::chrono::seconds(0)) == std::future_status::ready) return;
        hw_error_free(hw_producer_send_now(p, partition_, batch_));
    }

    std::future<RecordMetadata> future_;
    mutable hw_producer *producer_ = nullptr;
    uint32_t partition_ = 0;
    uint64_t batch_ = 0;
};

/// A producer for one topic. Sends are asynchronous: a future or a callback reports each record.
class Producer {
  public:
    /// Connects to the SC at `endpoint` ("host:port") and waits (up to metadata_timeout_ms) for
    /// `topic`. Throws CONFIG (naming the key) for a bad configuration, UNKNOWN_TOPIC, TRANSPORT...
    static Producer connect(const std::string &endpoint, const std::string &topic, const Config &config = {}) {
        auto cfg = detail::make_config(config);
        hw_producer *p = nullptr;
        detail::check(hw_producer_connect(endpoint.c_str(), topic.c_str(), cfg.get(), &p));
        return Producer(p);
    }

    Producer(Producer &&other) noexcept : p_(std::exchange(other.p_, nullptr)) {}
    Producer &operator=(Producer &&other) noexcept {
        if (this != &other) {
            release();
            p_ = std::exchange(other.p_, nullptr);
        }
        return *this;
    }
    Producer(const Producer &) = delete;
    Producer &operator=(const Producer &) = delete;
    /// Stops the producer if it is open (unsent records fail with CLOSED, with a warning) and waits
    /// until every delivery callback has run. Must not run inside one of its delivery callbacks.
    ~Producer() { release(); }

    /// The topic ("" for a moved-from producer).
    std::string topic() const { return detail::string_or_empty(hw_producer_topic(p_)); }
    uint32_t partition_count() const noexcept { return hw_producer_partition_count(p_); }
    /// The codec batches are compressed with ("none", "gzip", "snappy", "lz4", "zstd").
    std::string compression() const { return detail::string_or_empty(hw_producer_compression(p_)); }
    /// Whether close() was called (later sends throw CLOSED).
    bool is_closed() const noexcept { return hw_producer_is_closed(p_); }

    /// Sends a record to the partition the partitioner picks. Returns at once unless the queue is
    /// full (then waits up to send_timeout_ms and throws QUEUE_FULL); a refused send throws and is
    /// not reported again. The future holds where the record landed, or its Error.
    Future send(Key key, Bytes value) {
        return send_future(hw_record{key.data(), key.size(), value.data(), value.size(), -1, -1});
    }
    /// send() reporting to `callback` instead of a future.
    void send(Key key, Bytes value, DeliveryCallback callback) {
        send_with_callback(std::move(callback), [&](void *ctx) {
            return hw_producer_send(p_, key.data(), key.size(), value.data(), value.size(),
                                    detail::deliver_to_callback, ctx);
        });
    }

    /// send() to an explicit partition (UNKNOWN_PARTITION at or past the partition count).
    Future send_to(uint32_t partition, Key key, Bytes value) {
        return send_future(hw_record{key.data(), key.size(), value.data(), value.size(), partition, -1});
    }
    void send_to(uint32_t partition, Key key, Bytes value, DeliveryCallback callback) {
        send_with_callback(std::move(callback), [&](void *ctx) {
            return hw_producer_send_to(p_, partition, key.data(), key.size(), value.data(), value.size(),
                                       detail::deliver_to_callback, ctx);
        });
    }

    /// send() with the options of `record` (explicit partition, timestamp).
    Future send_record(const Record &record) { return send_future(detail::record_of(record)); }
    void send_record(const Record &record, DeliveryCallback callback) {
        const hw_record r = detail::record_of(record);
        send_with_callback(std::move(callback), [&](void *ctx) {
            return hw_producer_send_record(p_, &r, detail::deliver_to_callback, ctx);
        });
    }

    /// Sends every record of `records`, each checked first: a bad one (or one larger than
    /// max_request_size) refuses the whole call and nothing is sent. A failure while sending (a full
    /// queue, a closed producer) throws; the records before it were sent and are still delivered.
    /// One future per record, in order.
    std::vector<Future> send_all(const std::vector<Record> &records) {
        auto state = new_send_all_state(records.size());
        state->promises.resize(records.size());
        std::vector<std::future<RecordMetadata>> futures;
        futures.reserve(records.size());
        for (auto &promise : state->promises) futures.push_back(promise.get_future());
        const Placement placed = submit_all(records, std::move(state));
        std::vector<Future> out;
        out.reserve(records.size());
        for (std::size_t i = 0; i < records.size(); i++) {
            out.push_back(Future(std::move(futures[i]), p_, placed.partitions[i], placed.batches[i]));
        }
        return out;
    }
    /// send_all() reporting each record to `callback` with its index.
    void send_all(const std::vector<Record> &records, IndexedDeliveryCallback callback) {
        auto state = new_send_all_state(records.size());
        state->callback = std::move(callback);
        submit_all(records, std::move(state));
    }

    /// Sends a record and blocks until it is acknowledged (at most delivery_timeout_ms); its batch
    /// goes out at once. Not allowed inside a delivery callback.
    RecordMetadata send_sync(Key key, Bytes value) {
        hw_record_metadata m{};
        detail::check(hw_producer_send_sync(p_, key.data(), key.size(), value.data(), value.size(), &m));
        return detail::metadata_of(m);
    }

    /// Seals every open batch so it goes out now, without waiting (what a future's wait cannot do).
    void seal() { detail::check(hw_producer_seal(p_)); }

    /// Sends every open batch now and waits until everything sent so far is acknowledged or failed
    /// and its callback has returned; throws the first delivery failure since the last flush.
    void flush() { detail::check(hw_producer_flush(p_, HW_WAIT_FOREVER)); }
    /// flush() waiting at most `timeout` (throws TIMEOUT if anything is still pending; nothing is
    /// dropped). A timeout of 0 only seals the open batches.
    void flush(std::chrono::milliseconds timeout) {
        detail::check(hw_producer_flush(p_, detail::timeout_ms(timeout)));
    }

    /// Flushes, then stops the producer: later sends throw CLOSED. Idempotent. The destructor still
    /// frees it.
    void close() { detail::check(hw_producer_close(p_, HW_WAIT_FOREVER)); }
    /// close() with its flush bounded by `timeout` (records still unsent then fail with CLOSED).
    void close(std::chrono::milliseconds timeout) {
        detail::check(hw_producer_close(p_, detail::timeout_ms(timeout)));
    }

    ProducerStats stats() const {
        ProducerStats s{};
        detail::check(hw_producer_stats(p_, &s));
        return s;
    }

    /// The C object (NULL once moved from), for C functions this class does not wrap.
    hw_producer *native() const noexcept { return p_; }

  private:
    explicit Producer(hw_producer *p) noexcept : p_(p) {}

    void release() noexcept {
        if (p_ != nullptr) hw_error_free(hw_producer_free(std::exchange(p_, nullptr)));
    }

    /// Sends one record through hw_producer_send_records, which says where the record's batch is,
    /// for the Future to send it when someone waits.
    Future send_future(const hw_record &record) {
        auto slot = std::make_unique<detail::PromiseSlot>();
        slot->topic = hw_producer_topic(p_);
        std::future<RecordMetadata> future = slot->promise.get_future();
        void *ctx = slot.get();
        uint32_t partition = 0;
        uint64_t batch = 0;
        detail::check(hw_producer_send_records(p_, &record, 1, detail::deliver_to_slot, &ctx, &partition, &batch));
        // Sent: the library owns the slot until the delivery trampoline frees it.
        slot.release();
        return Future(std::move(future), p_, partition, batch);
    }

    template <class Send> void send_with_callback(DeliveryCallback callback, Send send) {
        auto owned = std::make_unique<DeliveryCallback>(std::move(callback));
        detail::check(send(static_cast<void *>(owned.get())));
        owned.release();
    }

    std::unique_ptr<detail::SendAllState> new_send_all_state(std::size_t n) const {
        auto state = std::make_unique<detail::SendAllState>();
        state->topic = topic();
        state->slots.resize(n);
        for (std::size_t i = 0; i < n; i++) state->slots[i] = {state.get(), i};
        state->pending = n;
        return state;
    }

    /// Each record's partition and batch id (what hw_producer_send_now takes).
    struct Placement {
        std::vector<uint32_t> partitions;
        std::vector<uint64_t> batches;
    };

    /// Sends through hw_producer_send_records, which says which records were sent when it fails
    /// midway, so the state of the others can be counted as reported.
    Placement submit_all(const std::vector<Record> &records, std::unique_ptr<detail::SendAllState> state) {
        const std::size_t n = records.size();
        std::vector<hw_record> c_records;
        std::vector<void *> ctxs;
        c_records.reserve(n);
        ctxs.reserve(n);
        for (std::size_t i = 0; i < n; i++) {
            c_records.push_back(detail::record_of(records[i]));
            ctxs.push_back(&state->slots[i]);
        }
        Placement placed{std::vector<uint32_t>(n, std::numeric_limits<uint32_t>::max()), std::vector<uint64_t>(n, 0)};
        if (n == 0) {
            detail::check(
                hw_producer_send_records(p_, nullptr, 0, detail::deliver_send_all, nullptr, nullptr, nullptr));
            return placed;
        }
        hw_error *err = hw_producer_send_records(p_, c_records.data(), n, detail::deliver_send_all, ctxs.data(),
                                                 placed.partitions.data(), placed.batches.data());
        detail::SendAllState *shared = state.release();
        std::size_t unsent = 0;
        for (uint32_t p : placed.partitions) {
            if (p == std::numeric_limits<uint32_t>::max()) unsent++;
        }
        if (unsent > 0) shared->reported(unsent);
        detail::check(err);
        return placed;
    }

    hw_producer *p_ = nullptr;
};

/// An embedded Fluvio-protocol broker on loopback ports, for tests and demos. Stopped by stop() or
/// the destructor.
class TestBroker {
  public:
    /// Starts a broker. Options: spus (default 1), data_dir (durable segments; default in memory),
    /// sync, tls_cert + tls_key, tls_client_ca. A bad option throws CONFIG naming the key.
    static TestBroker start(const Options &options = {}) {
        const detail::OptionArrays o(options);
        hw_broker *b = nullptr;
        detail::check(hw_broker_start_with(o.keys.data(), o.values.data(), o.keys.size(), &b));
        return TestBroker(b);
    }

    TestBroker(TestBroker &&other) noexcept : b_(std::exchange(other.b_, nullptr)) {}
    TestBroker &operator=(TestBroker &&other) noexcept {
        if (this != &other) {
            stop();
            b_ = std::exchange(other.b_, nullptr);
        }
        return *this;
    }
    TestBroker(const TestBroker &) = delete;
    TestBroker &operator=(const TestBroker &) = delete;
    ~TestBroker() { stop(); }

    /// The SC endpoint ("127.0.0.1:PORT") producers and admins connect to ("" once stopped).
    std::string endpoint() const { return detail::string_or_empty(hw_broker_endpoint(b_)); }

    /// Creates a topic with `partitions` partitions.
    void create_topic(const std::string &name, uint32_t partitions = 1) {
        detail::check(hw_broker_create_topic(b_, name.c_str(), partitions));
    }
    /// Creates a topic from options: partitions, replication, compression, retention_secs,
    /// segment_size, max_partition_size.
    void create_topic(const std::string &name, const Options &options) {
        const detail::OptionArrays o(options);
        detail::check(hw_broker_create_topic_with(b_, name.c_str(), o.keys.data(), o.values.data(), o.keys.size()));
    }
    void delete_topic(const std::string &name) { detail::check(hw_broker_delete_topic(b_, name.c_str())); }

    /// What the broker stores for `topic`/`partition` from offset `from` on, in offset order.
    std::vector<StoredRecord> records(const std::string &topic, uint32_t partition, int64_t from = 0) {
        hw_record_list *list = nullptr;
        detail::check(hw_broker_records(b_, topic.c_str(), partition, from, &list));
        std::unique_ptr<hw_record_list, void (*)(hw_record_list *)> owned(list, hw_record_list_free);
        std::vector<StoredRecord> out(hw_record_list_len(list));
        for (std::size_t i = 0; i < out.size(); i++) {
            hw_stored_record r{};
            detail::check(hw_record_list_get(list, i, &r));
            StoredRecord &s = out[i];
            s.offset = r.offset;
            if (r.key != nullptr) s.key = std::string(reinterpret_cast<const char *>(r.key), r.key_len);
            s.value.assign(reinterpret_cast<const char *>(r.value), r.value_len);
            s.timestamp = r.timestamp;
            s.partition = r.partition;
            s.compression = detail::string_or_empty(r.compression);
            s.batch_base_offset = r.batch_base_offset;
        }
        return out;
    }

    Offsets offsets(const std::string &topic, uint32_t partition) const {
        Offsets o;
        detail::check(hw_broker_offsets(b_, topic.c_str(), partition, &o.start, &o.end));
        return o;
    }

    /// Holds produce requests on every SPU until resume().
    void pause() { detail::check(hw_broker_pause(b_)); }
    void resume() { detail::check(hw_broker_resume(b_)); }

    /// The id of the `index`-th SPU (5001, 5002, ...).
    int32_t spu_id(uint32_t index) const {
        int32_t id = 0;
        detail::check(hw_broker_spu_id(b_, index, &id));
        return id;
    }
    void pause_spu(int32_t spu_id) { detail::check(hw_broker_pause_spu(b_, spu_id)); }
    void resume_spu(int32_t spu_id) { detail::check(hw_broker_resume_spu(b_, spu_id)); }
    void stop_spu(int32_t spu_id) { detail::check(hw_broker_stop_spu(b_, spu_id)); }
    void start_spu(int32_t spu_id) { detail::check(hw_broker_start_spu(b_, spu_id)); }

    /// The id of the SPU leading `topic`/`partition`.
    int32_t leader(const std::string &topic, uint32_t partition) const {
        int32_t id = 0;
        detail::check(hw_broker_leader(b_, topic.c_str(), partition, &id));
        return id;
    }
    int64_t high_watermark(const std::string &topic, uint32_t partition) const {
        int64_t hw = 0;
        detail::check(hw_broker_high_watermark(b_, topic.c_str(), partition, &hw));
        return hw;
    }

    /// Fault injection: the next `count` requests of `api_key` (0 = Produce) get Fluvio error `code`.
    void fail_next(uint16_t api_key, uint32_t count, int16_t code) {
        detail::check(hw_broker_fail_next(b_, api_key, count, code));
    }
    /// Fault injection: the next `count` requests of `api_key` close their connection unanswered.
    void drop_next(uint16_t api_key, uint32_t count) { detail::check(hw_broker_drop_next(b_, api_key, count)); }
    /// Fault injection: every request of `api_key` waits `per_request` before it is served (0 clears).
    void delay(uint16_t api_key, std::chrono::milliseconds per_request) {
        detail::check(hw_broker_delay(b_, api_key, detail::timeout_ms(per_request)));
    }

    BrokerStats stats() const {
        BrokerStats s{};
        detail::check(hw_broker_stats(b_, &s));
        return s;
    }

    /// Stops the broker now (every listener and connection); later calls throw INVALID_ARGUMENT.
    void stop() noexcept {
        if (b_ != nullptr) hw_broker_stop(std::exchange(b_, nullptr));
    }

    /// The C object (NULL once stopped or moved from).
    hw_broker *native() const noexcept { return b_; }

  private:
    explicit TestBroker(hw_broker *b) noexcept : b_(b) {}
    hw_broker *b_ = nullptr;
};

/// Topic administration over the network.
class Admin {
  public:
    /// Connects to the SC at `endpoint`. TLS options: tls, tls_ca_file, tls_cert_file, tls_key_file,
    /// tls_server_name (none: plaintext).
    static Admin connect(const std::string &endpoint, const Options &tls = {}) {
        const detail::OptionArrays o(tls);
        hw_admin *a = nullptr;
        detail::check(hw_admin_connect_with(endpoint.c_str(), o.keys.data(), o.values.data(), o.keys.size(), &a));
        return Admin(a);
    }

    Admin(Admin &&other) noexcept : a_(std::exchange(other.a_, nullptr)) {}
    Admin &operator=(Admin &&other) noexcept {
        if (this != &other) {
            release();
            a_ = std::exchange(other.a_, nullptr);
        }
        return *this;
    }
    Admin(const Admin &) = delete;
    Admin &operator=(const Admin &) = delete;
    ~Admin() { release(); }

    /// Creates a topic and waits until it is usable.
    void create_topic(const std::string &name, uint32_t partitions = 1) {
        detail::check(hw_admin_create_topic(a_, name.c_str(), partitions, nullptr));
    }
    /// Creates a topic from options (TestBroker::create_topic's keys); the SC's refusals are BROKER
    /// errors with the Fluvio code (2002 TopicAlreadyExists, ...).
    void create_topic(const std::string &name, const Options &options) {
        const detail::OptionArrays o(options);
        detail::check(hw_admin_create_topic_with(a_, name.c_str(), o.keys.data(), o.values.data(), o.keys.size()));
    }
    /// Deletes a topic and waits until it is gone.
    void delete_topic(const std::string &name) { detail::check(hw_admin_delete_topic(a_, name.c_str())); }
    bool topic_exists(const std::string &name) {
        bool exists = false;
        detail::check(hw_admin_topic_exists(a_, name.c_str(), &exists));
        return exists;
    }
    /// The (non-system) topics.
    std::vector<TopicInfo> list_topics() {
        hw_topic_list *list = nullptr;
        detail::check(hw_admin_list_topics(a_, &list));
        std::unique_ptr<hw_topic_list, void (*)(hw_topic_list *)> owned(list, hw_topic_list_free);
        std::vector<TopicInfo> out(hw_topic_list_len(list));
        for (std::size_t i = 0; i < out.size(); i++) {
            hw_topic_info t{};
            detail::check(hw_topic_list_get(list, i, &t));
            out[i] = TopicInfo{detail::string_or_empty(t.name), t.partitions,
                               t.replication, detail::string_or_empty(t.compression),
                               t.retention_secs, detail::string_or_empty(t.status)};
        }
        return out;
    }

    /// The C object (NULL once moved from).
    hw_admin *native() const noexcept { return a_; }

  private:
    explicit Admin(hw_admin *a) noexcept : a_(a) {}
    void release() noexcept {
        if (a_ != nullptr) hw_admin_free(std::exchange(a_, nullptr));
    }
    hw_admin *a_ = nullptr;
};

/// Stops the library's background threads (hw_shutdown): call it last, once every Producer,
/// TestBroker and Admin is destroyed, e.g. so that valgrind reports nothing at exit. Throws
/// INVALID_ARGUMENT (changing nothing) while any is alive. The library stays usable afterwards.
inline void shutdown() { detail::check(hw_shutdown()); }

/// Calls shutdown() when it goes out of scope, ignoring its error (a destructor cannot throw):
/// declare it first in main(), so every object declared after it is destroyed before it.
class Runtime {
  public:
    Runtime() noexcept = default;
    Runtime(const Runtime &) = delete;
    Runtime &operator=(const Runtime &) = delete;
    ~Runtime() { hw_error_free(hw_shutdown()); }
};

} // namespace headwater

#endif /* HEADWATER_HPP */

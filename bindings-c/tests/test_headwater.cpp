// The C++ wrapper's suite (GoogleTest): records produced through include/headwater.hpp and read back
// from the embedded broker (offsets, partitions, keys), futures and callbacks, errors with their
// four facts, send after close, move-only ownership, the manifest (every C member of Producer,
// TestBroker, Admin and HeadwaterError in tests/vectors/api.json has its C++ member), and
// headwater::shutdown. main() ends with shutdown(), so valgrind sees nothing of the library at exit.
#include <gtest/gtest.h>

#include <dirent.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include "headwater.hpp"

using namespace std::chrono_literals;

// --------------------------------------------------------------------------------------------
// The manifest: each HW_CPP_MEMBER line of cpp_manifest.h (generated from api.json) becomes a
// using-declaration of that member, which does not compile if headwater.hpp lacks it.

namespace manifest {
#define HW_CPP_MEMBER(cls, member, c_names)                                                        \
    struct cls##_##member : headwater::cls {                                                      \
        using headwater::cls::member;                                                             \
    };
#include "cpp_manifest.h"
#undef HW_CPP_MEMBER

struct Entry {
    const char *cls, *member, *c_names;
};
#define HW_CPP_MEMBER(cls, member, c_names) {#cls, #member, c_names},
const Entry kEntries[] = {
#include "cpp_manifest.h"
};
#undef HW_CPP_MEMBER
} // namespace manifest

TEST(Manifest, EveryCMemberOfTheManifestHasItsCppMember) {
    std::map<std::string, int> per_class;
    for (const auto &e : manifest::kEntries) per_class[e.cls]++;
    // Compiled above; here: the generated list really covers the four classes.
    EXPECT_GE(per_class["Producer"], 12);
    EXPECT_GE(per_class["TestBroker"], 20);
    EXPECT_GE(per_class["Admin"], 4);
    EXPECT_EQ(per_class["Error"], 5);
    std::printf("    %zu C++ members checked against api.json's C column\n", std::size(manifest::kEntries));
}

// --------------------------------------------------------------------------------------------
// Helpers

/// How many threads of this process carry the library's runtime thread name.
static int runtime_threads() {
    int n = 0;
    if (DIR *d = opendir("/proc/self/task")) {
        while (const dirent *t = readdir(d)) {
            if (t->d_name[0] == '.') continue;
            std::ifstream comm(std::string("/proc/self/task/") + t->d_name + "/comm");
            std::string name;
            if (std::getline(comm, name) && name == "headwater-rt") n++;
        }
        closedir(d);
    }
    return n;
}

/// Runs `f`, which must throw a headwater::Error of `number`; returns it.
template <class F> static headwater::Error expect_error(F f, int32_t number) {
    try {
        f();
    } catch (const headwater::Error &e) {
        EXPECT_EQ(e.number(), number) << e.what();
        return e;
    }
    ADD_FAILURE() << "no error thrown, expected " << hw_error_code_name(number);
    return headwater::Error(nullptr);
}

static bool contains(const std::string &haystack, const std::string &needle) {
    return haystack.find(needle) != std::string::npos;
}

// --------------------------------------------------------------------------------------------
// Producing and reading back

TEST(Producer, FuturesReportWhereRecordsLandAndTheBrokerStoresThemThere) {
    auto broker = headwater::TestBroker::start();
    broker.create_topic("cpp-futures", 3);
    auto producer = headwater::Producer::connect(broker.endpoint(), "cpp-futures", {{"linger_ms", "5"}});
    EXPECT_EQ(producer.topic(), "cpp-futures");
    EXPECT_EQ(producer.partition_count(), 3u);
    EXPECT_EQ(producer.compression(), "none");
    EXPECT_FALSE(producer.is_closed());

    const int n = 30;
    std::vector<headwater::Future> futures;
    for (int i = 0; i < n; i++) {
        futures.push_back(producer.send("user-" + std::to_string(i % 5), "event " + std::to_string(i)));
    }
    producer.flush();
    std::map<uint32_t, std::map<int64_t, std::string>> landed; // partition -> offset -> value
    std::map<std::string, std::set<uint32_t>> partitions_of_key;
    for (int i = 0; i < n; i++) {
        const headwater::RecordMetadata m = futures[static_cast<size_t>(i)].get();
        EXPECT_EQ(m.topic, "cpp-futures");
        ASSERT_LT(m.partition, 3u);
        EXPECT_GT(m.timestamp, 0);
        landed[m.partition][m.offset] = "event " + std::to_string(i);
        partitions_of_key["user-" + std::to_string(i % 5)].insert(m.partition);
    }
    for (const auto &kv : partitions_of_key) EXPECT_EQ(kv.second.size(), 1u) << kv.first << " split";
    size_t stored = 0;
    for (const auto &[partition, by_offset] : landed) {
        const auto records = broker.records("cpp-futures", partition);
        ASSERT_EQ(records.size(), by_offset.size());
        for (size_t k = 0; k < records.size(); k++) {
            EXPECT_EQ(records[k].offset, static_cast<int64_t>(k)); // dense, from 0
            EXPECT_EQ(records[k].partition, partition);
            EXPECT_EQ(records[k].value, by_offset.at(records[k].offset));
            ASSERT_TRUE(records[k].key.has_value());
            EXPECT_EQ(records[k].compression, "none");
        }
        stored += records.size();
        const headwater::Offsets o = broker.offsets("cpp-futures", partition);
        EXPECT_EQ(o.start, 0);
        EXPECT_EQ(o.end, static_cast<int64_t>(records.size()));
    }
    EXPECT_EQ(stored, static_cast<size_t>(n));
    const headwater::ProducerStats s = producer.stats();
    EXPECT_EQ(s.records_sent, static_cast<uint64_t>(n));
    EXPECT_EQ(s.records_acked, static_cast<uint64_t>(n));
    EXPECT_EQ(broker.stats().records_appended, static_cast<uint64_t>(n));
}

// Waiting on a future sends its batch: the naive loop of send(...).get() with the default config
// (linger_ms 100) makes one produce request per record instead of sitting out the linger each time,
// and futures collected first and then waited on still share one batch.
TEST(Producer, WaitingOnAFutureSendsItsBatch) {
    auto broker = headwater::TestBroker::start();
    broker.create_topic("cpp-wait");
    auto producer = headwater::Producer::connect(broker.endpoint(), "cpp-wait");
    const int naive = 20;
    for (int i = 0; i < naive; i++) {
        const headwater::RecordMetadata m = producer.send("k", "naive " + std::to_string(i)).get();
        EXPECT_EQ(m.offset, i);
    }
    EXPECT_EQ(broker.stats().produce_requests, static_cast<uint64_t>(naive));

    const int collected = 200;
    std::vector<headwater::Future> futures;
    for (int i = 0; i < collected; i++) futures.push_back(producer.send("k", "collected " + std::to_string(i)));
    for (int i = 0; i < collected; i++) EXPECT_EQ(futures[static_cast<size_t>(i)].get().offset, naive + i);
    EXPECT_LE(broker.stats().produce_requests, static_cast<uint64_t>(naive + 2));

    // send_to, send_record and send_all futures do the same, with a linger nobody would sit out.
    auto lingering = headwater::Producer::connect(broker.endpoint(), "cpp-wait", {{"linger_ms", "600000"}});
    // (Without the seal these waits would sit out the linger: the deadlines are only a bound.)
    headwater::Future to = lingering.send_to(0, "k", "to");
    ASSERT_EQ(to.wait_for(60s), std::future_status::ready);
    EXPECT_EQ(to.get().offset, naive + collected);
    ASSERT_EQ(lingering.send_record(headwater::Record{"k", "record", std::nullopt, 42}).wait_for(60s),
              std::future_status::ready);
    auto all = lingering.send_all({headwater::Record{"k", "a", std::nullopt, std::nullopt},
                                   headwater::Record{"k", "b", std::nullopt, std::nullopt}});
    ASSERT_EQ(all[1].wait_for(60s), std::future_status::ready);
    EXPECT_EQ(all[0].get().offset, naive + collected + 2);
    EXPECT_EQ(all[1].get().offset, naive + collected + 3);

    // release() gives the std::future itself, which lets the batch linger until a flush.
    const uint64_t requests_before = broker.stats().produce_requests;
    std::future<headwater::RecordMetadata> plain = lingering.send("k", "plain").release();
    // Waiting on it sends nothing (a seal here would show as one more produce request).
    EXPECT_EQ(plain.wait_for(300ms), std::future_status::timeout);
    EXPECT_EQ(broker.stats().produce_requests, requests_before);
    lingering.flush();
    EXPECT_EQ(plain.get().offset, naive + collected + 4);
    EXPECT_EQ(broker.records("cpp-wait", 0).size(), static_cast<size_t>(naive + collected + 5));
}

TEST(Producer, NoKeyAndEmptyKeyStayDifferent) {
    auto broker = headwater::TestBroker::start();
    broker.create_topic("cpp-keys", 1);
    auto producer = headwater::Producer::connect(broker.endpoint(), "cpp-keys");
    producer.send(nullptr, "a");
    producer.send("", "b");
    producer.send(std::nullopt, "c");
    producer.send(std::optional<std::string>("k"), "d");
    producer.send(headwater::Key(), std::string_view("e\0f", 3)); // bytes, NUL included
    const std::vector<uint8_t> binary{0, 1, 2, 255};
    producer.send(binary, binary);
    producer.flush();
    const auto r = broker.records("cpp-keys", 0);
    ASSERT_EQ(r.size(), 6u);
    EXPECT_FALSE(r[0].key.has_value());
    EXPECT_EQ(r[1].key, std::optional<std::string>(""));
    EXPECT_FALSE(r[2].key.has_value());
    EXPECT_EQ(r[3].key, std::optional<std::string>("k"));
    EXPECT_EQ(r[4].value, std::string("e\0f", 3));
    EXPECT_EQ(r[5].key, std::optional<std::string>(std::string("\0\1\2\xff", 4)));
    EXPECT_EQ(r[5].value, std::string("\0\1\2\xff", 4));
}

TEST(Producer, CallbacksRunOncePerRecordBeforeCloseReturns) {
    auto broker = headwater::TestBroker::start();
    broker.create_topic("cpp-callbacks", 1);
    auto producer = headwater::Producer::connect(broker.endpoint(), "cpp-callbacks", {{"lingerMs", "20"}});
    std::mutex mu;
    std::vector<int64_t> offsets;
    std::atomic<int> failures{0};
    const int n = 20;
    for (int i = 0; i < n; i++) {
        producer.send(nullptr, "cb " + std::to_string(i),
                      [&](const headwater::RecordMetadata *m, const headwater::Error *e) {
                          if (e != nullptr || m == nullptr || m->topic != "cpp-callbacks") {
                              failures++;
                              return;
                          }
                          std::lock_guard<std::mutex> lock(mu);
                          offsets.push_back(m->offset);
                      });
    }
    producer.close(); // every callback has returned when close does
    EXPECT_TRUE(producer.is_closed());
    EXPECT_EQ(failures.load(), 0);
    std::lock_guard<std::mutex> lock(mu);
    ASSERT_EQ(offsets.size(), static_cast<size_t>(n));
    std::sort(offsets.begin(), offsets.end());
    for (int i = 0; i < n; i++) EXPECT_EQ(offsets[static_cast<size_t>(i)], i);
    EXPECT_EQ(broker.records("cpp-callbacks", 0).size(), static_cast<size_t>(n));
}

TEST(Producer, SendToSendRecordSendSyncAndSendAll) {
    auto broker = headwater::TestBroker::start();
    broker.create_topic("cpp-forms", 3);
    auto producer = headwater::Producer::connect(broker.endpoint(), "cpp-forms", {{"linger_ms", "0"}});

    const headwater::RecordMetadata to = producer.send_to(2, "k", "to two").get();
    EXPECT_EQ(to.partition, 2u);
    EXPECT_EQ(to.offset, 0);
    const headwater::RecordMetadata rec = producer.send_record({"k", "stamped", 1u, 1234567}).get();
    EXPECT_EQ(rec.partition, 1u);
    EXPECT_EQ(rec.timestamp, 1234567);
    const headwater::RecordMetadata sync = producer.send_sync(nullptr, "sync");
    EXPECT_EQ(sync.topic, "cpp-forms");
    EXPECT_LT(sync.partition, 3u);

    // send_all with futures: one per record, in order.
    auto all = producer.send_all({{nullptr, "all-0", 0u, std::nullopt}, {"", "all-1", 1u, std::nullopt},
                                  {"x", "all-2", 0u, std::nullopt}});
    ASSERT_EQ(all.size(), 3u);
    const auto m0 = all[0].get(), m1 = all[1].get(), m2 = all[2].get();
    EXPECT_EQ(m0.partition, 0u);
    EXPECT_EQ(m1.partition, 1u);
    EXPECT_EQ(m2.partition, 0u);
    EXPECT_EQ(m2.offset, m0.offset + 1);

    // send_all with a callback: each index reported once.
    std::mutex mu;
    std::multiset<size_t> indexes;
    producer.send_all({{nullptr, "cb-0", 2u, std::nullopt}, {nullptr, "cb-1", 2u, std::nullopt}},
                      [&](size_t i, const headwater::RecordMetadata *m, const headwater::Error *e) {
                          std::lock_guard<std::mutex> lock(mu);
                          if (m != nullptr && e == nullptr && m->partition == 2) indexes.insert(i);
                      });
    producer.flush();
    {
        std::lock_guard<std::mutex> lock(mu);
        EXPECT_EQ(indexes, (std::multiset<size_t>{0, 1}));
    }

    // A failure while sending stops there: the records before it are sent, the rest are not.
    const auto err = expect_error(
        [&] {
            producer.send_all({{nullptr, "sent", 0u, std::nullopt}, {nullptr, "bad", 7u, std::nullopt},
                               {nullptr, "never", 1u, std::nullopt}});
        },
        HW_ERROR_KIND_UNKNOWN_PARTITION);
    EXPECT_EQ(err.code(), "UNKNOWN_PARTITION");
    producer.flush();
    const auto p0 = broker.records("cpp-forms", 0), p1 = broker.records("cpp-forms", 1);
    EXPECT_EQ(p0.back().value, "sent");
    EXPECT_EQ(p1.back().value, "all-1");
    const auto stamped = std::find_if(p1.begin(), p1.end(), [](auto &r) { return r.value == "stamped"; });
    ASSERT_NE(stamped, p1.end());
    EXPECT_EQ(stamped->timestamp, 1234567);
    // Nothing is sent when a record is refused by the checks that come first.
    expect_error([&] { producer.send_all({{nullptr, "fine", 0u, std::nullopt}, {nullptr, "ts", 0u, -5}}); },
                 HW_ERROR_KIND_INVALID_ARGUMENT);
    producer.flush();
    EXPECT_EQ(broker.records("cpp-forms", 0).back().value, "sent");
    EXPECT_TRUE(producer.send_all({}).empty());
}

// --------------------------------------------------------------------------------------------
// Errors

TEST(Errors, ABadConfigurationNamesTheKey) {
    auto broker = headwater::TestBroker::start();
    broker.create_topic("cpp-config", 1);
    const auto unknown = expect_error(
        [&] { headwater::Producer::connect(broker.endpoint(), "cpp-config", {{"linger_msx", "5"}}); },
        HW_ERROR_KIND_CONFIG);
    EXPECT_EQ(unknown.code(), "CONFIG");
    EXPECT_FALSE(unknown.retriable());
    EXPECT_EQ(unknown.broker_code(), 0);
    EXPECT_TRUE(contains(unknown.what(), "linger_msx")) << unknown.what();
    EXPECT_EQ(std::string(unknown.what()).rfind("[CONFIG]", 0), 0u) << unknown.what();
    const auto bad_value = expect_error(
        [&] { headwater::Producer::connect(broker.endpoint(), "cpp-config", {{"linger_ms", "soon"}}); },
        HW_ERROR_KIND_CONFIG);
    EXPECT_TRUE(contains(bad_value.what(), "linger_ms")) << bad_value.what();
    const auto spus = expect_error([] { headwater::TestBroker::start({{"spus", "0"}}); }, HW_ERROR_KIND_CONFIG);
    EXPECT_TRUE(contains(spus.what(), "spus")) << spus.what();
    // An Error is a std::runtime_error.
    try {
        headwater::Producer::connect(broker.endpoint(), "cpp-config", {{"nope", "1"}});
        ADD_FAILURE() << "no error";
    } catch (const std::runtime_error &e) {
        EXPECT_TRUE(contains(e.what(), "nope"));
    }
}

TEST(Errors, UnknownTopicTransportAndBrokerCodes) {
    auto broker = headwater::TestBroker::start();
    const auto unknown = expect_error(
        [&] {
            headwater::Producer::connect(broker.endpoint(), "never-created", {{"metadata_timeout_ms", "300"}});
        },
        HW_ERROR_KIND_UNKNOWN_TOPIC);
    EXPECT_EQ(unknown.code(), "UNKNOWN_TOPIC");
    const auto transport = expect_error(
        [] { headwater::Producer::connect("127.0.0.1:1", "t", {{"metadata_timeout_ms", "300"}}); },
        HW_ERROR_KIND_TRANSPORT);
    EXPECT_TRUE(transport.retriable());

    // A broker's refusal reaches the future and the callback with its Fluvio code (56 StorageError).
    broker.create_topic("cpp-faults", 1);
    auto producer = headwater::Producer::connect(broker.endpoint(), "cpp-faults", {{"linger_ms", "0"}});
    broker.fail_next(0, 1, 56);
    auto refused = producer.send(nullptr, "x");
    const auto stored = expect_error([&] { refused.get(); }, HW_ERROR_KIND_BROKER);
    EXPECT_EQ(stored.broker_code(), 56);
    EXPECT_FALSE(stored.retriable());
    expect_error([&] { producer.flush(); }, HW_ERROR_KIND_BROKER); // reported once by the next flush
    producer.flush();
    broker.fail_next(0, 1, 56);
    std::atomic<int> code{0};
    producer.send(nullptr, "y", [&](const headwater::RecordMetadata *, const headwater::Error *e) {
        if (e != nullptr) code = e->broker_code();
    });
    expect_error([&] { producer.flush(); }, HW_ERROR_KIND_BROKER);
    EXPECT_EQ(code.load(), 56);
}

TEST(Errors, SendAfterCloseIsClosed) {
    auto broker = headwater::TestBroker::start();
    broker.create_topic("cpp-closed", 1);
    auto producer = headwater::Producer::connect(broker.endpoint(), "cpp-closed");
    EXPECT_EQ(producer.send_sync(nullptr, "before").offset, 0);
    producer.close();
    producer.close(500ms); // idempotent
    EXPECT_TRUE(producer.is_closed());
    expect_error([&] { producer.send(nullptr, "after"); }, HW_ERROR_KIND_CLOSED);
    bool called = false;
    expect_error(
        [&] { producer.send("k", "after", [&](auto, auto) { called = true; }); }, HW_ERROR_KIND_CLOSED);
    expect_error([&] { producer.send_all({{nullptr, "after", std::nullopt, std::nullopt}}); }, HW_ERROR_KIND_CLOSED);
    EXPECT_FALSE(called); // a refused send is never reported
    EXPECT_EQ(broker.records("cpp-closed", 0).size(), 1u);
}

// --------------------------------------------------------------------------------------------
// Ownership

static_assert(!std::is_copy_constructible_v<headwater::Producer> && !std::is_copy_assignable_v<headwater::Producer>);
static_assert(!std::is_copy_constructible_v<headwater::TestBroker> && !std::is_copy_assignable_v<headwater::TestBroker>);
static_assert(!std::is_copy_constructible_v<headwater::Admin> && !std::is_copy_assignable_v<headwater::Admin>);
static_assert(std::is_nothrow_move_constructible_v<headwater::Producer> &&
              std::is_nothrow_move_assignable_v<headwater::Producer>);
static_assert(std::is_nothrow_move_constructible_v<headwater::TestBroker> &&
              std::is_nothrow_move_assignable_v<headwater::TestBroker>);
static_assert(std::is_nothrow_move_constructible_v<headwater::Admin> &&
              std::is_nothrow_move_assignable_v<headwater::Admin>);

TEST(Ownership, MovesTransferTheObjectAndLeaveAnEmptyOneThatThrows) {
    auto first = headwater::TestBroker::start();
    first.create_topic("cpp-moves", 1);
    headwater::TestBroker broker = std::move(first);
    EXPECT_EQ(first.native(), nullptr);
    EXPECT_EQ(first.endpoint(), "");
    expect_error([&] { first.create_topic("x", 1); }, HW_ERROR_KIND_INVALID_ARGUMENT);

    auto a = headwater::Producer::connect(broker.endpoint(), "cpp-moves");
    hw_producer *const raw = a.native();
    headwater::Producer b = std::move(a);
    EXPECT_EQ(a.native(), nullptr);
    EXPECT_EQ(b.native(), raw);
    EXPECT_EQ(a.topic(), "");
    EXPECT_FALSE(a.is_closed());
    expect_error([&] { a.send(nullptr, "from an empty producer"); }, HW_ERROR_KIND_INVALID_ARGUMENT);
    EXPECT_EQ(b.send_sync(nullptr, "moved").offset, 0);

    // Move assignment frees what the target held (its unsent record fails CLOSED, reported once).
    auto c = headwater::Producer::connect(broker.endpoint(), "cpp-moves", {{"linger_ms", "60000"}});
    auto dropped = c.send(nullptr, "dropped with its producer");
    c = std::move(b);
    EXPECT_EQ(c.native(), raw);
    expect_error([&] { dropped.get(); }, HW_ERROR_KIND_CLOSED);
    EXPECT_EQ(c.send_sync(nullptr, "assigned").offset, 1);

    // Move-only objects live in containers.
    std::vector<headwater::Producer> producers;
    producers.push_back(std::move(c));
    producers.push_back(headwater::Producer::connect(broker.endpoint(), "cpp-moves"));
    EXPECT_EQ(producers[1].send_sync(nullptr, "third").offset, 2);
    producers.clear();

    auto admin = headwater::Admin::connect(broker.endpoint());
    headwater::Admin admin2 = std::move(admin);
    EXPECT_EQ(admin.native(), nullptr);
    EXPECT_TRUE(admin2.topic_exists("cpp-moves"));
    expect_error([&] { admin.topic_exists("cpp-moves"); }, HW_ERROR_KIND_INVALID_ARGUMENT);

    const auto records = broker.records("cpp-moves", 0);
    ASSERT_EQ(records.size(), 3u);
    EXPECT_EQ(records[0].value, "moved");
    EXPECT_EQ(records[2].value, "third");
    broker.stop();
    EXPECT_EQ(broker.native(), nullptr);
    broker.stop(); // stopping twice is a no-op
}

TEST(Admin, CreatesListsAndDeletesTopics) {
    auto broker = headwater::TestBroker::start();
    auto admin = headwater::Admin::connect(broker.endpoint());
    admin.create_topic("cpp-admin", 2);
    admin.create_topic("cpp-admin-gzip", {{"partitions", "3"}, {"compression", "gzip"}});
    EXPECT_TRUE(admin.topic_exists("cpp-admin"));
    const auto topics = admin.list_topics();
    std::map<std::string, headwater::TopicInfo> by_name;
    for (const auto &t : topics) by_name[t.name] = t;
    ASSERT_EQ(by_name.count("cpp-admin"), 1u);
    EXPECT_EQ(by_name["cpp-admin"].partitions, 2u);
    EXPECT_EQ(by_name["cpp-admin"].replication, 1u);
    EXPECT_EQ(by_name["cpp-admin"].compression, "any");
    EXPECT_EQ(by_name["cpp-admin-gzip"].partitions, 3u);
    EXPECT_EQ(by_name["cpp-admin-gzip"].compression, "gzip");
    const auto exists = expect_error([&] { admin.create_topic("cpp-admin", 1); }, HW_ERROR_KIND_BROKER);
    EXPECT_EQ(exists.broker_code(), 2002);
    admin.delete_topic("cpp-admin");
    EXPECT_FALSE(admin.topic_exists("cpp-admin"));
    EXPECT_EQ(broker.spu_id(0), 5001);
    EXPECT_EQ(broker.leader("cpp-admin-gzip", 2), 5001);
    EXPECT_EQ(broker.high_watermark("cpp-admin-gzip", 0), 0);
}

// --------------------------------------------------------------------------------------------
// shutdown

TEST(Shutdown, RefusedWhileObjectsLiveThenStopsTheThreadsAndTheLibraryStartsAgain) {
    {
        auto broker = headwater::TestBroker::start();
        const auto refused = expect_error([] { headwater::shutdown(); }, HW_ERROR_KIND_INVALID_ARGUMENT);
        EXPECT_TRUE(contains(refused.what(), "1 broker")) << refused.what();
        broker.create_topic("cpp-shutdown", 1); // nothing changed
        auto producer = headwater::Producer::connect(broker.endpoint(), "cpp-shutdown");
        EXPECT_TRUE(contains(expect_error([] { headwater::shutdown(); }, HW_ERROR_KIND_INVALID_ARGUMENT).what(),
                             "1 producer, 1 broker"));
        EXPECT_EQ(producer.send_sync(nullptr, "x").offset, 0);
    }
    EXPECT_GT(runtime_threads(), 0);
    headwater::shutdown();
    EXPECT_EQ(runtime_threads(), 0);
    headwater::shutdown(); // nothing left to stop

    {
        auto broker = headwater::TestBroker::start(); // a fresh runtime
        broker.create_topic("cpp-after-shutdown", 1);
        auto producer = headwater::Producer::connect(broker.endpoint(), "cpp-after-shutdown");
        EXPECT_EQ(producer.send_sync(nullptr, "again").offset, 0);
    }
    EXPECT_GT(runtime_threads(), 0);
    {
        headwater::Runtime guard; // stops it at the end of this scope
        auto broker = headwater::TestBroker::start({{"spus", "2"}});
        EXPECT_EQ(broker.spu_id(1), 5002);
    }
    EXPECT_EQ(runtime_threads(), 0);
}

int main(int argc, char **argv) {
    testing::InitGoogleTest(&argc, argv);
    const int failed = RUN_ALL_TESTS();
    // Every test freed what it made: stop the library's threads, so valgrind sees none at exit.
    try {
        headwater::shutdown();
    } catch (const headwater::Error &e) {
        std::fprintf(stderr, "headwater::shutdown: %s\n", e.what());
        return 1;
    }
    if (runtime_threads() != 0) {
        std::fprintf(stderr, "%d library threads still running after shutdown\n", runtime_threads());
        return 1;
    }
    return failed;
}

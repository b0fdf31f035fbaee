// Headwater C++ example: an embedded broker, a producer (futures and a callback), records read back.
#include <atomic>
#include <iostream>

#include "headwater.hpp"

int main() {
    headwater::Runtime runtime; // first: stops the library's threads once everything below is gone
    try {
        auto broker = headwater::TestBroker::start();
        broker.create_topic("events", 2);

        auto producer = headwater::Producer::connect(broker.endpoint(), "events", {{"linger_ms", "10"}});
        headwater::Future landed = producer.send("user-1", "hello"); // landed.get() sends its batch at once
        std::atomic<int> failed{0};
        producer.send(nullptr, "no key", [&failed](const headwater::RecordMetadata *, const headwater::Error *err) {
            if (err != nullptr) failed++; // called once, on a library thread
        });
        producer.close(); // flush (every callback has run), then stop

        const headwater::RecordMetadata meta = landed.get();
        std::cout << "user-1 landed in partition " << meta.partition << " at offset " << meta.offset << "\n";
        for (const auto &record : broker.records("events", meta.partition)) {
            std::cout << "read back: " << record.key.value_or("(no key)") << " = " << record.value << "\n";
        }
        return failed == 0 ? 0 : 1;
    } catch (const headwater::Error &e) {
        std::cerr << "failed: " << e.what() << " (code " << e.code() << ")\n";
        return 1;
    }
}

package io.headwater;

import java.lang.ref.WeakReference;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The {@link CompletableFuture} that {@link Producer#send} and {@link Producer#sendAll} return (typed as a
 * plain {@code CompletableFuture<RecordMetadata>}): waiting on it sends the record's batch at once.
 *
 * <p>A record's batch normally goes out when it is full or {@code lingerMs} after it opened. {@link #get()},
 * {@link #get(long, TimeUnit)} and {@link #join()} on a future that is not complete yet first seal that
 * batch if it is still open and have it sent now, so a caller who waits on each send does not sit out the
 * linger. Only that batch: other partitions' batches keep lingering, and a batch already sealed is left
 * alone. Records sent before the wait that share the batch go out with it, so waiting on many futures one
 * after another after sending them all still sends full batches.
 *
 * <p>Everything else behaves as in {@code CompletableFuture}: registering a dependent stage
 * ({@code thenApply}, {@code whenComplete}, ...), {@code getNow}, {@code isDone} do not seal anything. The
 * stages derived from this future are of this class too (through {@link #newIncompleteFuture()}), and
 * waiting on one of them seals this record's batch: {@code send(k, v).thenApply(f).join()} does not linger
 * either. A future that is not derived from this one does not: {@code CompletableFuture.allOf(...)} and
 * {@code anyOf} build plain futures, so waiting on them waits for the batches to go out by themselves (call
 * {@link Producer#flush()} first, or wait on the send futures themselves).
 *
 * <p>Cost: the future keeps one {@code long} key (its group's number and its position there); sealing is a
 * JNI call made only by a wait that would block, and a no-op once the batch was sealed.
 */
final class ProduceFuture<T> extends CompletableFuture<T> {
    /** The producer whose record this is; weak so an unused producer can still be freed. */
    private final WeakReference<Producer> producer;
    /**
     * The record's key for {@code Native.producerSendNow} (see producer.rs {@code record_key}); 0 until the
     * send returned it, and for a record whose batch cannot be found (then a wait just waits).
     */
    long key;

    ProduceFuture(WeakReference<Producer> producer, long key) {
        this.producer = producer;
        this.key = key;
    }

    /** Sends the record's batch now if it is still open; nothing if this future is complete already. */
    private void sendNow() {
        long k = key;
        if (k != 0 && !isDone()) {
            Producer p = producer.get();
            if (p != null) {
                p.sendNow(k);
            }
        }
    }

    /** Sends the record's batch at once if it is still open, then waits for the result. */
    @Override
    public T get() throws InterruptedException, ExecutionException {
        sendNow();
        return super.get();
    }

    /** Sends the record's batch at once if it is still open, then waits at most {@code timeout}. */
    @Override
    public T get(long timeout, TimeUnit unit) throws InterruptedException, ExecutionException, TimeoutException {
        sendNow();
        return super.get(timeout, unit);
    }

    /** Sends the record's batch at once if it is still open, then waits for the result. */
    @Override
    public T join() {
        sendNow();
        return super.join();
    }

    /** Dependent stages are {@code ProduceFuture}s of the same record: waiting on them sends its batch. */
    @Override
    public <U> CompletableFuture<U> newIncompleteFuture() {
        return new ProduceFuture<>(producer, key);
    }
}

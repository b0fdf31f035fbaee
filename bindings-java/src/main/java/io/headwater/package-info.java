/**
 * Headwater for Java: a producer for Fluvio-protocol streaming clusters, with an embedded broker for
 * tests. {@link io.headwater.Producer} sends records ({@code send} returns a {@code CompletableFuture} of
 * {@link io.headwater.RecordMetadata}), {@link io.headwater.ProducerConfig} configures it,
 * {@link io.headwater.TestBroker} runs a broker in-process and {@link io.headwater.Admin} manages topics.
 * Every failure is a {@link io.headwater.HeadwaterException}.
 *
 * <p>The JAR carries its native library. Core's log lines go to SLF4J when slf4j-api is on the class path,
 * else to java.util.logging (through {@code System.Logger}), on loggers named after their Rust module
 * ({@code headwater.broker...}, {@code headwater.producer...}).
 */
package io.headwater;

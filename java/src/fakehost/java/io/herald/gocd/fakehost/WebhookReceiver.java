package io.herald.gocd.fakehost;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.InvalidKeyException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * An HTTP server on 127.0.0.1 (ephemeral port) that records every POST it receives and responds
 * as its current {@link Mode} says: 200, 500, or no response until the mode changes.
 */
public final class WebhookReceiver implements AutoCloseable {
    public static final String SIGNATURE_HEADER = "X-Herald-Signature-256";
    public static final String EVENT_ID_HEADER = "X-Herald-Event-Id";

    /** How the receiver responds to the requests that arrive from now on. */
    public enum Mode {
        OK,
        /** Responds with HTTP status 500. */
        ERROR,
        /** Reads the request, then holds the connection without a response until the mode changes. */
        HANG
    }

    /** One request as it arrived, with the status it was answered with (0 for none). */
    public static final class Request {
        public final String method;
        public final String path;
        /** Header names in lower case; a repeated header keeps its first value. */
        public final Map<String, String> headers;
        public final byte[] body;
        public final int status;

        Request(String method, String path, Map<String, String> headers, byte[] body, int status) {
            this.method = method;
            this.path = path;
            this.headers = Collections.unmodifiableMap(headers);
            this.body = body;
            this.status = status;
        }

        public String header(String name) {
            return headers.get(name.toLowerCase(Locale.ROOT));
        }

        public String bodyText() {
            return new String(body, StandardCharsets.UTF_8);
        }

        /**
         * Returns true when the signature header is {@code sha256=} and the hex HMAC-SHA256 of
         * the exact body bytes under {@code secret}, computed here with the JDK's own Mac.
         */
        public boolean signatureValid(String secret) {
            String header = header(SIGNATURE_HEADER);
            if (header == null || !header.startsWith("sha256=")) {
                return false;
            }
            byte[] expected = hmacSha256(secret, body);
            byte[] received = decodeHex(header.substring("sha256=".length()));
            return received != null && MessageDigest.isEqual(expected, received);
        }
    }

    private final HttpServer server;
    private final ExecutorService executor;
    private final List<Request> requests = new ArrayList<>();
    private Mode mode;
    private boolean closed;

    private WebhookReceiver(HttpServer server, ExecutorService executor, Mode mode) {
        this.server = server;
        this.executor = executor;
        this.mode = mode;
    }

    /** Starts a receiver on 127.0.0.1 and an ephemeral port. */
    public static WebhookReceiver start(Mode mode) throws IOException {
        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        // A thread per connection, so a hanging response holds up no other destination.
        ExecutorService executor = Executors.newCachedThreadPool(runnable -> {
            Thread thread = new Thread(runnable, "webhook-receiver");
            thread.setDaemon(true);
            return thread;
        });
        WebhookReceiver receiver = new WebhookReceiver(server, executor, mode);
        server.createContext("/", receiver::serve);
        server.setExecutor(executor);
        server.start();
        return receiver;
    }

    /** Returns the URL of {@code path} on this receiver, e.g. {@code http://127.0.0.1:40123/hook}. */
    public String url(String path) {
        InetSocketAddress address = server.getAddress();
        return "http://" + address.getAddress().getHostAddress() + ":" + address.getPort() + path;
    }

    public synchronized void setMode(Mode mode) {
        this.mode = mode;
        notifyAll();
    }

    /** Returns every request received so far, in arrival order. */
    public synchronized List<Request> requests() {
        return new ArrayList<>(requests);
    }

    /**
     * Waits until {@code condition} holds on the requests received so far and returns them.
     * Throws an AssertionError naming {@code what} and the requests seen when {@code limitMillis}
     * pass first; the limit only keeps a broken run from hanging.
     */
    public synchronized List<Request> await(String what, long limitMillis, Predicate<List<Request>> condition)
            throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(limitMillis);
        while (!condition.test(requests)) {
            long remaining = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
            if (remaining <= 0) {
                throw new AssertionError("gave up after " + limitMillis + " ms waiting for " + what
                        + "; received " + describe(requests));
            }
            wait(remaining);
        }
        return new ArrayList<>(requests);
    }

    @Override
    public void close() {
        synchronized (this) {
            closed = true;
            notifyAll();
        }
        server.stop(0);
        executor.shutdownNow();
    }

    private void serve(HttpExchange exchange) throws IOException {
        // HttpExchange is AutoCloseable only from Java 14 on, and this code targets Java 11.
        try {
            byte[] body = exchange.getRequestBody().readAllBytes();
            Map<String, String> headers = new TreeMap<>();
            exchange.getRequestHeaders().forEach((name, values) ->
                    headers.put(name.toLowerCase(Locale.ROOT), values.isEmpty() ? "" : values.get(0)));

            Mode current;
            synchronized (this) {
                current = mode;
                int status = 0;
                if (current == Mode.OK) {
                    status = 200;
                } else if (current == Mode.ERROR) {
                    status = 500;
                }
                requests.add(new Request(exchange.getRequestMethod(), exchange.getRequestURI().getPath(), headers, body, status));
                notifyAll();
                if (current == Mode.HANG) {
                    while (mode == Mode.HANG && !closed) {
                        wait();
                    }
                    // The sender is cut off or gone by now; a late response would mislead the record.
                    return;
                }
            }

            byte[] answer = (current == Mode.OK ? "ok" : "receiver told to fail").getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(current == Mode.OK ? 200 : 500, answer.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(answer);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            exchange.close();
        }
    }

    private static String describe(List<Request> requests) {
        StringBuilder out = new StringBuilder(requests.size() + " request(s)");
        for (Request request : requests) {
            out.append("\n  ").append(request.method).append(' ').append(request.path)
                    .append(" status ").append(request.status)
                    .append(" event id ").append(request.header(EVENT_ID_HEADER));
        }
        return out.toString();
    }

    static byte[] hmacSha256(String secret, byte[] data) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
            return mac.doFinal(data);
        } catch (NoSuchAlgorithmException | InvalidKeyException e) {
            throw new IllegalStateException("HmacSHA256 is not available in this JDK", e);
        }
    }

    private static byte[] decodeHex(String hex) {
        if (hex.length() % 2 != 0) {
            return null;
        }
        byte[] bytes = new byte[hex.length() / 2];
        for (int i = 0; i < bytes.length; i++) {
            int high = Character.digit(hex.charAt(2 * i), 16);
            int low = Character.digit(hex.charAt(2 * i + 1), 16);
            if (high < 0 || low < 0) {
                return null;
            }
            bytes[i] = (byte) (high * 16 + low);
        }
        return bytes;
    }
}

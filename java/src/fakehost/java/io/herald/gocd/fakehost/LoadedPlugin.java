package io.herald.gocd.fakehost;

import com.thoughtworks.go.plugin.api.GoPlugin;
import com.thoughtworks.go.plugin.api.annotation.Extension;
import com.thoughtworks.go.plugin.api.annotation.Load;
import com.thoughtworks.go.plugin.api.annotation.UnLoad;
import com.thoughtworks.go.plugin.api.exceptions.UnhandledRequestTypeException;
import com.thoughtworks.go.plugin.api.info.PluginContext;
import com.thoughtworks.go.plugin.api.request.DefaultGoPluginApiRequest;
import com.thoughtworks.go.plugin.api.response.GoPluginApiResponse;
import java.io.IOException;
import java.lang.annotation.Annotation;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;

/**
 * A plugin jar loaded the way a GoCD server loads an external plugin: unpacked into a bundle
 * folder, plugin.xml read, a classloader over the bundle root and {@code lib/*.jar} whose parent
 * offers only the plugin API, the {@code @Extension} class found by scanning, {@code @Load}
 * called, and the notification API version negotiated.
 */
public final class LoadedPlugin implements AutoCloseable {
    public static final String EXTENSION = "notification";
    public static final List<String> SERVER_API_VERSIONS = Collections.unmodifiableList(Arrays.asList("1.0", "2.0", "3.0", "4.0"));

    public final PluginXml descriptor;
    public final String apiVersion;
    public final Path bundleDir;

    private final URLClassLoader classLoader;
    private final GoPlugin plugin;
    private boolean unloaded;

    private LoadedPlugin(PluginXml descriptor, String apiVersion, Path bundleDir, URLClassLoader classLoader, GoPlugin plugin) {
        this.descriptor = descriptor;
        this.apiVersion = apiVersion;
        this.bundleDir = bundleDir;
        this.classLoader = classLoader;
        this.plugin = plugin;
    }

    /** Loads the jar with a server that speaks every notification API version GoCD supports. */
    public static LoadedPlugin load(Path jar, FakeGoServer server) throws Exception {
        return load(jar, server, SERVER_API_VERSIONS);
    }

    /** Loads the jar with a server that speaks {@code serverApiVersions}. */
    public static LoadedPlugin load(Path jar, FakeGoServer server, List<String> serverApiVersions) throws Exception {
        Path bundleDir = Files.createTempDirectory("herald-bundle-");
        unpack(jar, bundleDir);

        PluginXml descriptor = PluginXml.read(bundleDir.resolve("plugin.xml"));
        checkTargetOs(descriptor);

        URLClassLoader classLoader = new URLClassLoader(bundleClassPath(bundleDir),
                new PluginApiOnlyClassLoader(LoadedPlugin.class.getClassLoader()));
        Class<?> extension = findExtension(bundleDir, classLoader);
        GoPlugin plugin = (GoPlugin) extension.getDeclaredConstructor().newInstance();

        invokeAnnotated(plugin, Load.class);
        plugin.initializeGoApplicationAccessor(server);
        String apiVersion = negotiate(plugin, serverApiVersions);
        return new LoadedPlugin(descriptor, apiVersion, bundleDir, classLoader, plugin);
    }

    /** Sends one request with the negotiated API version. */
    public GoPluginApiResponse send(String requestName, String body) {
        return send(requestName, apiVersion, body);
    }

    /** Sends one request with {@code requestApiVersion}, as a server speaking that version would. */
    public GoPluginApiResponse send(String requestName, String requestApiVersion, String body) {
        DefaultGoPluginApiRequest request = new DefaultGoPluginApiRequest(EXTENSION, requestApiVersion, requestName);
        request.setRequestBody(body);
        try {
            return plugin.handle(request);
        } catch (UnhandledRequestTypeException e) {
            throw new IllegalStateException("plugin " + descriptor.id + " threw for request " + requestName, e);
        }
    }

    public ClassLoader classLoader() {
        return classLoader;
    }

    /** Calls {@code @UnLoad}, closes the classloader and deletes the bundle folder. */
    @Override
    public void close() throws IOException {
        if (unloaded) {
            return;
        }
        unloaded = true;
        try {
            invokeAnnotated(plugin, UnLoad.class);
        } finally {
            classLoader.close();
            deleteTree(bundleDir);
        }
    }

    private static void unpack(Path jar, Path target) throws IOException {
        try (ZipInputStream zip = new ZipInputStream(Files.newInputStream(jar))) {
            for (ZipEntry entry = zip.getNextEntry(); entry != null; entry = zip.getNextEntry()) {
                Path destination = target.resolve(entry.getName()).normalize();
                if (!destination.startsWith(target)) {
                    throw new IOException("jar entry escapes the bundle folder: " + entry.getName());
                }
                if (entry.isDirectory()) {
                    Files.createDirectories(destination);
                } else {
                    Files.createDirectories(destination.getParent());
                    Files.copy(zip, destination);
                }
            }
        }
    }

    /** GoCD refuses a plugin whose plugin.xml lists target operating systems without the current one. */
    private static void checkTargetOs(PluginXml descriptor) {
        if (descriptor.targetOperatingSystems.isEmpty()) {
            return;
        }
        String current = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        for (String os : descriptor.targetOperatingSystems) {
            if (current.startsWith(os.toLowerCase(Locale.ROOT))) {
                return;
            }
        }
        throw new IllegalStateException("plugin " + descriptor.id + " targets " + descriptor.targetOperatingSystems
                + ", not os.name=" + System.getProperty("os.name"));
    }

    private static URL[] bundleClassPath(Path bundleDir) throws IOException {
        List<URL> urls = new ArrayList<>();
        urls.add(bundleDir.toUri().toURL());
        Path lib = bundleDir.resolve("lib");
        if (Files.isDirectory(lib)) {
            try (Stream<Path> jars = Files.list(lib)) {
                for (Path jar : jars.filter(path -> path.toString().endsWith(".jar")).sorted().collect(Collectors.toList())) {
                    urls.add(jar.toUri().toURL());
                }
            }
        }
        return urls.toArray(new URL[0]);
    }

    private static Class<?> findExtension(Path bundleDir, ClassLoader classLoader) throws IOException, ClassNotFoundException {
        List<Class<?>> extensions = new ArrayList<>();
        List<Path> classFiles;
        try (Stream<Path> files = Files.walk(bundleDir)) {
            classFiles = files.filter(path -> path.toString().endsWith(".class")).collect(Collectors.toList());
        }
        for (Path classFile : classFiles) {
            String relative = bundleDir.relativize(classFile).toString();
            String className = relative.substring(0, relative.length() - ".class".length()).replace('/', '.');
            Class<?> candidate = Class.forName(className, false, classLoader);
            if (candidate.isAnnotationPresent(Extension.class) && GoPlugin.class.isAssignableFrom(candidate)) {
                extensions.add(candidate);
            }
        }
        if (extensions.size() != 1) {
            throw new IllegalStateException("expected one @Extension GoPlugin class in " + bundleDir + ", found " + extensions);
        }
        return extensions.get(0);
    }

    private static void invokeAnnotated(GoPlugin plugin, Class<? extends Annotation> annotation) {
        PluginContext context = new PluginContext() {
        };
        for (Method method : plugin.getClass().getMethods()) {
            if (!method.isAnnotationPresent(annotation)) {
                continue;
            }
            try {
                method.invoke(plugin, context);
            } catch (InvocationTargetException e) {
                throw new IllegalStateException("@" + annotation.getSimpleName() + " method " + method.getName() + " failed", e.getCause());
            } catch (IllegalAccessException e) {
                throw new IllegalStateException("@" + annotation.getSimpleName() + " method " + method.getName() + " is not public", e);
            }
        }
    }

    /** Picks the highest API version both sides speak, as GoCD does. */
    private static String negotiate(GoPlugin plugin, List<String> serverApiVersions) {
        if (!EXTENSION.equals(plugin.pluginIdentifier().getExtension())) {
            throw new IllegalStateException("plugin offers extension " + plugin.pluginIdentifier().getExtension() + ", not " + EXTENSION);
        }
        return plugin.pluginIdentifier().getSupportedExtensionVersions().stream()
                .filter(serverApiVersions::contains)
                .max(Comparator.comparingDouble(Double::parseDouble))
                .orElseThrow(() -> new IllegalStateException("no notification API version in common with " + serverApiVersions));
    }

    private static void deleteTree(Path root) throws IOException {
        try (Stream<Path> paths = Files.walk(root)) {
            for (Path path : paths.sorted(Comparator.reverseOrder()).collect(Collectors.toList())) {
                Files.deleteIfExists(path);
            }
        }
    }
}

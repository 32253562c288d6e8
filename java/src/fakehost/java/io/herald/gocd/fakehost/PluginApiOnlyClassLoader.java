package io.herald.gocd.fakehost;

/**
 * Parent of a plugin's classloader that offers the JDK and the GoCD plugin API, and nothing else
 * from the host, as GoCD's OSGi framework does. Everything else a plugin needs must be in its jar.
 */
final class PluginApiOnlyClassLoader extends ClassLoader {
    private static final String API_PACKAGE = "com.thoughtworks.go.plugin.api.";

    private final ClassLoader host;

    PluginApiOnlyClassLoader(ClassLoader host) {
        super(ClassLoader.getPlatformClassLoader());
        this.host = host;
    }

    @Override
    protected Class<?> findClass(String name) throws ClassNotFoundException {
        // The plugin must see the host's own API classes, or GoPlugin would be two different types.
        if (name.startsWith(API_PACKAGE)) {
            return host.loadClass(name);
        }
        throw new ClassNotFoundException(name + " is not part of the GoCD plugin API offered to plugins");
    }
}

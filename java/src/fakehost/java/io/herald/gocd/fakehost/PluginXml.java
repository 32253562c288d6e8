package io.herald.gocd.fakehost;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.parsers.ParserConfigurationException;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;
import org.xml.sax.SAXException;

/** The parts of a plugin's plugin.xml that GoCD acts on. */
public final class PluginXml {
    public final String id;
    public final String name;
    public final String version;
    public final List<String> targetOperatingSystems;

    private PluginXml(String id, String name, String version, List<String> targetOperatingSystems) {
        this.id = id;
        this.name = name;
        this.version = version;
        this.targetOperatingSystems = Collections.unmodifiableList(targetOperatingSystems);
    }

    /** Reads plugin.xml; throws when the file is missing or has no {@code go-plugin} id. */
    static PluginXml read(Path file) throws IOException {
        Document document;
        try {
            DocumentBuilderFactory factory = DocumentBuilderFactory.newInstance();
            factory.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
            document = factory.newDocumentBuilder().parse(file.toFile());
        } catch (ParserConfigurationException | SAXException e) {
            throw new IOException("invalid plugin.xml at " + file + ": " + e.getMessage(), e);
        }

        Element root = document.getDocumentElement();
        if (!"go-plugin".equals(root.getTagName()) || root.getAttribute("id").isEmpty()) {
            throw new IOException("plugin.xml at " + file + " has no <go-plugin id=\"...\"> root");
        }
        List<String> operatingSystems = new ArrayList<>();
        NodeList values = root.getElementsByTagName("target-os");
        for (int i = 0; i < values.getLength(); i++) {
            NodeList entries = ((Element) values.item(i)).getElementsByTagName("value");
            for (int j = 0; j < entries.getLength(); j++) {
                operatingSystems.add(entries.item(j).getTextContent().trim());
            }
        }
        return new PluginXml(root.getAttribute("id"), text(root, "name"), text(root, "version"), operatingSystems);
    }

    private static String text(Element root, String tag) {
        NodeList nodes = root.getElementsByTagName(tag);
        return nodes.getLength() == 0 ? null : nodes.item(0).getTextContent().trim();
    }
}

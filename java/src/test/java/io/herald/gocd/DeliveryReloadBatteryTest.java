package io.herald.gocd;

import org.junit.Test;

/**
 * The reload battery with a webhook destination: each load starts a sender thread, which
 * delivers one event and must end at unload. The build runs this class in a JVM of its own,
 * because a failure here can take the whole JVM down.
 */
public class DeliveryReloadBatteryTest {
    @Test
    public void hundredReloadsWithDestination() throws Exception {
        ReloadBatteryTest.reloadHundredTimes(true);
    }
}

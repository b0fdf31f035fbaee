package io.headwater;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class NativeLoaderTest {
    @Test
    void platformNames() {
        assertEquals("linux-x86_64", NativeLoader.platform("Linux", "amd64"));
        assertEquals("osx-aarch64", NativeLoader.platform("Mac OS X", "aarch64"));
        assertEquals("windows-x86_64", NativeLoader.platform("Windows 11", "amd64"));
    }

    @Test
    void bundledLibraryIsFoundForLinuxX8664() {
        assertNotNull(NativeLoader.locate("Linux", "amd64"));
    }

    @Test
    void missingPlatformGivesAnErrorNamingIt() {
        UnsatisfiedLinkError e = assertThrows(UnsatisfiedLinkError.class, () -> NativeLoader.locate("Mac OS X", "aarch64"));
        assertTrue(e.getMessage().contains("osx-aarch64"), e.getMessage());
        e = assertThrows(UnsatisfiedLinkError.class, () -> NativeLoader.locate("Linux", "riscv64"));
        assertTrue(e.getMessage().contains("linux-riscv64"), e.getMessage());
    }
}

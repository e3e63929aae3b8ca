package org.llmattrib.attribution.input;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Templates read as Python's str.format reads them (what Captum's TextTemplateInput calls). */
class TemplatesTest {
    @Test
    void doubledBracesAreLiteralBracesNotSlots() {
        // Python: "{name} {{zzz}} {{{city}}}".format(name="Dave", city="Rome") == "Dave {zzz} {Rome}"
        String template = "{name} {{zzz}} {{{city}}}";
        assertThat(Templates.slots(template)).containsExactly("name", "city");
        assertThat(Templates.renderer(template, List.of("name", "city")).apply(List.of("Dave", "Rome")))
                .isEqualTo("Dave {zzz} {Rome}");
        // Python: "{} and {{}} and {}".format("a", "b") == "a and {} and b"
        assertThat(Templates.slots("{} and {{}} and {}")).containsExactly("", "");
        assertThat(Templates.renderer("{} and {{}} and {}", List.of()).apply(List.of("a", "b"))).isEqualTo("a and {} and b");
    }
}

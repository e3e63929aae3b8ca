package org.llmattrib.attribution.gradient;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class IntegrationRuleTest {

    @Test
    void gaussLegendreNodesAreTheKnownOnes() {
        double[][] two = IntegrationRule.GAUSS_LEGENDRE.nodesAndWeights(2);
        assertThat(two[0]).containsExactly(new double[] {0.5 - 0.5 / Math.sqrt(3), 0.5 + 0.5 / Math.sqrt(3)}, within(1e-14));
        assertThat(two[1]).containsExactly(new double[] {0.5, 0.5}, within(1e-14));
        double[][] three = IntegrationRule.GAUSS_LEGENDRE.nodesAndWeights(3);
        assertThat(three[0]).containsExactly(new double[] {0.5 - 0.5 * Math.sqrt(0.6), 0.5, 0.5 + 0.5 * Math.sqrt(0.6)},
                within(1e-14));
        assertThat(three[1]).containsExactly(new double[] {5.0 / 18, 8.0 / 18, 5.0 / 18}, within(1e-14));
    }

    @Test
    void gaussLegendreIntegratesPolynomialsExactly() {
        // n nodes integrate degree 2n-1 exactly: x^9 on [0, 1] with 5 nodes
        double[][] nw = IntegrationRule.GAUSS_LEGENDRE.nodesAndWeights(5);
        double integral = 0;
        for (int i = 0; i < 5; i++) {
            integral += nw[1][i] * Math.pow(nw[0][i], 9);
        }
        assertThat(integral).isCloseTo(0.1, within(1e-14));
    }

    @ParameterizedTest
    @EnumSource(IntegrationRule.class)
    void weightsSumToOneAndNodesLieInTheUnitInterval(IntegrationRule rule) {
        for (int n : new int[] {1, 2, 7, 50}) {
            double[][] nw = rule.nodesAndWeights(n);
            assertThat(Arrays.stream(nw[1]).sum()).isCloseTo(1.0, within(1e-12));
            assertThat(Arrays.stream(nw[0]).allMatch(a -> a >= 0 && a <= 1)).isTrue();
        }
        assertThat(IntegrationRule.RIEMANN_TRAPEZOID.nodesAndWeights(3)[1]).containsExactly(0.25, 0.5, 0.25);
        assertThat(IntegrationRule.RIEMANN_LEFT.nodesAndWeights(4)[0]).containsExactly(0.0, 0.25, 0.5, 0.75);
    }
}

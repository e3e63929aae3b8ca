package org.llmattrib.attribution.perturbation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.Random;
import org.junit.jupiter.api.Test;

class LinearModelsTest {

    @Test
    void weightedLeastSquaresRecoversAnExactLinearFunctionWithIntercept() {
        Random random = new Random(5);
        double[] coef = {0.5, -2.0, 3.25};
        double[][] x = new double[40][3];
        double[] y = new double[40];
        double[] w = new double[40];
        for (int i = 0; i < 40; i++) {
            for (int j = 0; j < 3; j++) {
                x[i][j] = random.nextBoolean() ? 1 : 0;
                y[i] += coef[j] * x[i][j];
            }
            y[i] += 7;
            w[i] = 0.1 + random.nextDouble();
        }
        assertThat(LinearModels.leastSquares(x, y, w)).containsExactly(coef, within(1e-8));
    }

    @Test
    void lassoSoftThresholdsAnOrthogonalDesign() {
        // centred +-1 columns that are orthogonal: the Lasso solution is soft-thresholding of OLS
        double[][] x = {{1, 1}, {1, 0}, {0, 1}, {0, 0}};
        double[] y = {3.0, 2.0, 1.0, 0.0}; // y = 2 x0 + 1 x1
        double[] w = {1, 1, 1, 1};
        // after centring, x_j has values +-0.5 so z_j = 0.25 and rho_j = 0.25 * b_j; b = S(rho, a) / z
        double alpha = 0.1;
        double[] lasso = LinearModels.lasso(x, y, w, alpha);
        assertThat(lasso[0]).isCloseTo((0.25 * 2 - alpha) / 0.25, within(1e-9));
        assertThat(lasso[1]).isCloseTo((0.25 * 1 - alpha) / 0.25, within(1e-9));
        assertThat(LinearModels.lasso(x, y, w, 1.0)).containsExactly(new double[] {0, 0}, within(1e-12));
    }
}

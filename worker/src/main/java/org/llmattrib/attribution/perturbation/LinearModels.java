package org.llmattrib.attribution.perturbation;

/** Weighted linear fits with an intercept, as scikit-learn's LinearRegression and Lasso compute them. */
public final class LinearModels {
    private LinearModels() {}

    /** Weighted least squares; the minimum-norm solution (the ridge limit) where X is rank deficient. */
    public static double[] leastSquares(double[][] x, double[] y, double[] w) {
        Centered c = Centered.of(x, y, w);
        int p = c.p();
        double[][] a = new double[p][p];
        double[] b = new double[p];
        double trace = 0;
        for (int i = 0; i < c.rows(); i++) {
            for (int j = 0; j < p; j++) {
                b[j] += w[i] * c.x[i][j] * c.y[i];
                for (int k = 0; k < p; k++) {
                    a[j][k] += w[i] * c.x[i][j] * c.x[i][k];
                }
            }
        }
        for (int j = 0; j < p; j++) {
            trace += a[j][j];
        }
        double ridge = 1e-12 * Math.max(trace, 1e-300);
        for (int j = 0; j < p; j++) {
            a[j][j] += ridge;
        }
        return solveSymmetric(a, b);
    }

    /**
     * scikit-learn's Lasso with sample weights: minimize
     * (1/2N) sum_i w_i (y_i - c - x_i b)^2 + alpha |b|_1, weights rescaled to sum to N, by coordinate descent.
     */
    public static double[] lasso(double[][] x, double[] y, double[] w, double alpha) {
        int n = y.length;
        double wSum = 0;
        for (double v : w) {
            wSum += v;
        }
        double[] sw = new double[n];
        for (int i = 0; i < n; i++) {
            sw[i] = w[i] * n / wSum;
        }
        Centered c = Centered.of(x, y, sw);
        int p = c.p();
        double[] beta = new double[p];
        double[] residual = c.y.clone();
        double[] z = new double[p];
        for (int j = 0; j < p; j++) {
            for (int i = 0; i < n; i++) {
                z[j] += sw[i] * c.x[i][j] * c.x[i][j] / n;
            }
        }
        for (int iter = 0; iter < 10_000; iter++) {
            double maxChange = 0;
            for (int j = 0; j < p; j++) {
                if (z[j] == 0) {
                    continue;
                }
                double rho = 0;
                for (int i = 0; i < n; i++) {
                    rho += sw[i] * c.x[i][j] * (residual[i] + c.x[i][j] * beta[j]) / n;
                }
                double updated = Math.signum(rho) * Math.max(Math.abs(rho) - alpha, 0) / z[j];
                double delta = updated - beta[j];
                if (delta != 0) {
                    for (int i = 0; i < n; i++) {
                        residual[i] -= c.x[i][j] * delta;
                    }
                    beta[j] = updated;
                    maxChange = Math.max(maxChange, Math.abs(delta));
                }
            }
            if (maxChange < 1e-12) {
                break;
            }
        }
        return beta;
    }

    /** X and y minus their weighted means: fitting the intercept. */
    private record Centered(double[][] x, double[] y) {
        static Centered of(double[][] x, double[] y, double[] w) {
            int n = y.length;
            int p = n == 0 ? 0 : x[0].length;
            double wSum = 0;
            double yMean = 0;
            double[] xMean = new double[p];
            for (int i = 0; i < n; i++) {
                wSum += w[i];
                yMean += w[i] * y[i];
                for (int j = 0; j < p; j++) {
                    xMean[j] += w[i] * x[i][j];
                }
            }
            yMean /= wSum;
            double[][] cx = new double[n][p];
            double[] cy = new double[n];
            for (int i = 0; i < n; i++) {
                cy[i] = y[i] - yMean;
                for (int j = 0; j < p; j++) {
                    cx[i][j] = x[i][j] - xMean[j] / wSum;
                }
            }
            return new Centered(cx, cy);
        }

        int rows() {
            return y.length;
        }

        int p() {
            return rows() == 0 ? 0 : x[0].length;
        }
    }

    /** Gaussian elimination with partial pivoting. */
    static double[] solveSymmetric(double[][] a, double[] b) {
        int n = b.length;
        double[][] m = new double[n][];
        double[] r = b.clone();
        for (int i = 0; i < n; i++) {
            m[i] = a[i].clone();
        }
        for (int col = 0; col < n; col++) {
            int pivot = col;
            for (int row = col + 1; row < n; row++) {
                if (Math.abs(m[row][col]) > Math.abs(m[pivot][col])) {
                    pivot = row;
                }
            }
            double[] t = m[col];
            m[col] = m[pivot];
            m[pivot] = t;
            double tr = r[col];
            r[col] = r[pivot];
            r[pivot] = tr;
            for (int row = col + 1; row < n; row++) {
                double f = m[row][col] / m[col][col];
                for (int k = col; k < n; k++) {
                    m[row][k] -= f * m[col][k];
                }
                r[row] -= f * r[col];
            }
        }
        double[] out = new double[n];
        for (int row = n - 1; row >= 0; row--) {
            double s = r[row];
            for (int k = row + 1; k < n; k++) {
                s -= m[row][k] * out[k];
            }
            out[row] = s / m[row][row];
        }
        return out;
    }
}

package org.llmattrib.attribution.gradient;

/** Captum's quadrature rules on [0, 1]: nodes (alphas) and weights (step sizes). */
public enum IntegrationRule {
    GAUSS_LEGENDRE, RIEMANN_LEFT, RIEMANN_RIGHT, RIEMANN_MIDDLE, RIEMANN_TRAPEZOID;

    public static IntegrationRule parse(String name) {
        return switch (name) {
            case "gausslegendre" -> GAUSS_LEGENDRE;
            case "riemann_left" -> RIEMANN_LEFT;
            case "riemann_right" -> RIEMANN_RIGHT;
            case "riemann_middle" -> RIEMANN_MIDDLE;
            case "riemann_trapezoid", "riemann" -> RIEMANN_TRAPEZOID;
            default -> throw new IllegalArgumentException("unknown integration method '" + name + "'");
        };
    }

    /** [0] = alphas, [1] = weights, {@code n} of each; the weights sum to 1. */
    public double[][] nodesAndWeights(int n) {
        double[] a = new double[n];
        double[] w = new double[n];
        switch (this) {
            case GAUSS_LEGENDRE -> gaussLegendre(n, a, w);
            case RIEMANN_TRAPEZOID -> {
                for (int i = 0; i < n; i++) {
                    a[i] = n == 1 ? 1.0 : i / (double) (n - 1);
                    w[i] = n == 1 ? 1.0 : (i == 0 || i == n - 1 ? 0.5 : 1.0) / (n - 1);
                }
            }
            default -> {
                double shift = this == RIEMANN_LEFT ? 0 : this == RIEMANN_RIGHT ? 1 : 0.5;
                for (int i = 0; i < n; i++) {
                    a[i] = (i + shift) / n;
                    w[i] = 1.0 / n;
                }
            }
        }
        return new double[][] {a, w};
    }

    /** Gauss-Legendre nodes on [-1, 1] by Newton's method, mapped to [0, 1]. */
    private static void gaussLegendre(int n, double[] alphas, double[] weights) {
        for (int i = 0; i < n; i++) {
            double x = Math.cos(Math.PI * (i + 0.75) / (n + 0.5));
            double derivative = 0;
            for (int iter = 0; iter < 100; iter++) {
                double p0 = 1;
                double p1 = x;
                for (int k = 2; k <= n; k++) {
                    double p2 = ((2 * k - 1) * x * p1 - (k - 1) * p0) / k;
                    p0 = p1;
                    p1 = p2;
                }
                derivative = n * (x * p1 - p0) / (x * x - 1);
                double dx = p1 / derivative;
                x -= dx;
                if (Math.abs(dx) < 1e-15) {
                    break;
                }
            }
            alphas[n - 1 - i] = 0.5 * (x + 1);
            weights[n - 1 - i] = 1.0 / ((1 - x * x) * derivative * derivative);
        }
    }
}

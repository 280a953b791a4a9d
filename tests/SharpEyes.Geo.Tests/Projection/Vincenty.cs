namespace SharpEyes.Geo.Tests.Projection;

/// <summary>Vincenty's inverse formula on WGS-84: an independent oracle for geodesic distances (sub-millimetre).</summary>
internal static class Vincenty
{
    public static double DistanceM(double lon1, double lat1, double lon2, double lat2)
    {
        const double a = 6378137.0, f = 1 / 298.257223563, b = a * (1 - f);
        double l = (lon2 - lon1) * Math.PI / 180;
        double u1 = Math.Atan((1 - f) * Math.Tan(lat1 * Math.PI / 180));
        double u2 = Math.Atan((1 - f) * Math.Tan(lat2 * Math.PI / 180));
        double sinU1 = Math.Sin(u1), cosU1 = Math.Cos(u1), sinU2 = Math.Sin(u2), cosU2 = Math.Cos(u2);
        double lambda = l, sinSigma, cosSigma, sigma, cos2Alpha, cos2SigmaM;
        int iterations = 0;
        while (true)
        {
            double sinLambda = Math.Sin(lambda), cosLambda = Math.Cos(lambda);
            sinSigma = Math.Sqrt(Math.Pow(cosU2 * sinLambda, 2) + Math.Pow((cosU1 * sinU2) - (sinU1 * cosU2 * cosLambda), 2));
            if (sinSigma == 0)
            {
                return 0;
            }

            cosSigma = (sinU1 * sinU2) + (cosU1 * cosU2 * cosLambda);
            sigma = Math.Atan2(sinSigma, cosSigma);
            double sinAlpha = cosU1 * cosU2 * sinLambda / sinSigma;
            cos2Alpha = 1 - (sinAlpha * sinAlpha);
            cos2SigmaM = cos2Alpha == 0 ? 0 : cosSigma - (2 * sinU1 * sinU2 / cos2Alpha);
            double c = f / 16 * cos2Alpha * (4 + (f * (4 - (3 * cos2Alpha))));
            double previous = lambda;
            lambda = l + ((1 - c) * f * sinAlpha * (sigma + (c * sinSigma * (cos2SigmaM + (c * cosSigma * (-1 + (2 * cos2SigmaM * cos2SigmaM)))))));
            if (Math.Abs(lambda - previous) < 1e-13 || ++iterations > 200)
            {
                break;
            }
        }

        double uSq = cos2Alpha * ((a * a) - (b * b)) / (b * b);
        double bigA = 1 + (uSq / 16384 * (4096 + (uSq * (-768 + (uSq * (320 - (175 * uSq)))))));
        double bigB = uSq / 1024 * (256 + (uSq * (-128 + (uSq * (74 - (47 * uSq))))));
        double deltaSigma = bigB * sinSigma * (cos2SigmaM + (bigB / 4 * ((cosSigma * (-1 + (2 * cos2SigmaM * cos2SigmaM)))
            - (bigB / 6 * cos2SigmaM * (-3 + (4 * sinSigma * sinSigma)) * (-3 + (4 * cos2SigmaM * cos2SigmaM))))));
        return b * bigA * (sigma - deltaSigma);
    }
}

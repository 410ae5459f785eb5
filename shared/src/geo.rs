//! Distances on the Earth, for tracks and "near me".

/// Great-circle distance in metres between two WGS 84 positions given as
/// (latitude, longitude) in degrees, on a sphere of the Earth's mean radius
/// (haversine; within 0.5 % of the ellipsoid at these scales).
pub fn distance_m((lat1, lon1): (f64, f64), (lat2, lon2): (f64, f64)) -> f64 {
    const EARTH_RADIUS_M: f64 = 6_371_008.8;
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let (dp, dl) = ((lat2 - lat1).to_radians(), (lon2 - lon1).to_radians());
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * a.sqrt().asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thousandth_of_a_degree_of_latitude_is_about_111_metres() {
        let d = distance_m((31.870, 121.17), (31.871, 121.17));
        assert!((d - 111.2).abs() < 0.1, "{d}");
        assert_eq!(distance_m((31.87, 121.17), (31.87, 121.17)), 0.0);
    }
}

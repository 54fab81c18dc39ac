//! Places along the river: ports, anchorages, locks, the ship lift, bridges, control lines.
//!
//! A [`Place`] has a reference km and an **extent** along the river (`downstream_km..=upstream_km`)
//! plus a lateral half-width from the centre line, so a port is a short reach and a lock
//! complex is an area. [`Places`] answers "which place is this km / position in?" — what an
//! "unplanned stop outside ports, anchorages and lock areas" rule asks — and "which is nearest?".
//!
//! The built-in list ([`Places::yangtze`]) is made from the waypoints of the domain brief §1.1
//! and §1.2. Extents and all anchorages are **inferred** (marked so on each place): configure
//! your own list for operations.

use crate::datum::{Datum, DatumKm, Datums};
use crate::voyage::Direction;

/// What kind of place it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PlaceKind {
    /// A port or terminal where ships berth.
    Port,
    /// An anchorage (e.g. waiting for the locks, 待闸锚地).
    Anchorage,
    /// A lock complex with its approaches.
    Lock,
    /// A ship lift (升船机).
    ShipLift,
    /// A bridge (no-overtaking zones are usual near bridges).
    Bridge,
    /// A dispatch control line, e.g. the Three Gorges plan-confirmation line (计划编制确认线).
    ControlLine,
    /// A named reference point: a datum zero, a reach boundary.
    Landmark,
}

impl PlaceKind {
    /// True for kinds where a ship is expected to stop: ports, anchorages, locks and the lift.
    pub fn is_stopping_place(self) -> bool {
        matches!(
            self,
            PlaceKind::Port | PlaceKind::Anchorage | PlaceKind::Lock | PlaceKind::ShipLift
        )
    }
}

/// A place with its extent along and across the river.
///
/// Invariant (checked by [`Places::new`]): all km finite, `downstream_km <= km <= upstream_km`,
/// `half_width_m >= 0`.
#[derive(Clone, Debug, PartialEq)]
pub struct Place {
    /// Stable identifier, e.g. `three-gorges-locks`.
    pub id: String,
    /// English name.
    pub name: String,
    /// Chinese name.
    pub name_zh: String,
    /// What it is.
    pub kind: PlaceKind,
    /// Reference unified km (the published km where there is one).
    pub km: f64,
    /// Upstream end of the extent, unified km.
    pub upstream_km: f64,
    /// Downstream end of the extent, unified km.
    pub downstream_km: f64,
    /// How far from the centre line, either side, a position still counts as in the place.
    pub half_width_m: f64,
    /// True when the km or the extent is inferred rather than published.
    pub inferred: bool,
}

impl Place {
    /// A place spanning `radius_km` either side of `km` along the river and `radius_km` across.
    pub fn point(
        id: &str,
        name: &str,
        name_zh: &str,
        kind: PlaceKind,
        km: f64,
        radius_km: f64,
    ) -> Place {
        Place {
            id: id.into(),
            name: name.into(),
            name_zh: name_zh.into(),
            kind,
            km,
            upstream_km: km + radius_km,
            downstream_km: km - radius_km,
            half_width_m: radius_km * 1000.0,
            inferred: false,
        }
    }

    /// An area from `upstream_km` down to `downstream_km`, `half_width_m` either side of the line;
    /// its reference km is the middle.
    pub fn area(
        id: &str,
        name: &str,
        name_zh: &str,
        kind: PlaceKind,
        upstream_km: f64,
        downstream_km: f64,
        half_width_m: f64,
    ) -> Place {
        Place {
            id: id.into(),
            name: name.into(),
            name_zh: name_zh.into(),
            kind,
            km: (upstream_km + downstream_km) / 2.0,
            upstream_km,
            downstream_km,
            half_width_m,
            inferred: false,
        }
    }

    fn inferred(mut self) -> Place {
        self.inferred = true;
        self
    }

    /// True when `km` lies within the extent along the river.
    pub fn contains_km(&self, km: f64) -> bool {
        self.downstream_km <= km && km <= self.upstream_km
    }

    /// True when a projected position (km, offset from the centre line) lies in the place.
    pub fn contains(&self, km: f64, offset_m: f64) -> bool {
        self.contains_km(km) && offset_m.abs() <= self.half_width_m
    }

    /// Distance along the river from `km` to the extent, 0 inside it.
    pub fn distance_km(&self, km: f64) -> f64 {
        if km > self.upstream_km {
            km - self.upstream_km
        } else if km < self.downstream_km {
            self.downstream_km - km
        } else {
            0.0
        }
    }

    fn length_km(&self) -> f64 {
        self.upstream_km - self.downstream_km
    }
}

/// Index of a place in its [`Places`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PlaceId(pub u32);

/// The nearest place to a km, by distance along the river to its extent.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NearestPlace {
    /// Which place.
    pub place: PlaceId,
    /// Distance along the river to the place's extent, km (0 when inside it).
    pub distance_km: f64,
}

/// Why a place list was refused.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PlaceError {
    /// A km is not finite or the extent does not contain the reference km.
    #[error(
        "place {id:?}: need finite km with downstream_km <= km <= upstream_km and half_width_m >= 0"
    )]
    BadExtent {
        /// The place's id.
        id: String,
    },
    /// Two places share an id.
    #[error("place id {id:?} is used twice")]
    DuplicateId {
        /// The repeated id.
        id: String,
    },
    /// More places than a [`PlaceId`] can count.
    #[error("too many places")]
    TooMany,
}

/// A set of places, ordered from upstream to downstream by reference km.
#[derive(Clone, Debug, Default)]
pub struct Places {
    items: Vec<Place>,
}

impl Places {
    /// Validates and orders a list of places.
    pub fn new(mut items: Vec<Place>) -> Result<Places, PlaceError> {
        if u32::try_from(items.len()).is_err() {
            return Err(PlaceError::TooMany);
        }
        for p in &items {
            let finite =
                p.km.is_finite() && p.upstream_km.is_finite() && p.downstream_km.is_finite();
            let ordered = p.downstream_km <= p.km && p.km <= p.upstream_km;
            let width_ok = p.half_width_m.is_finite() && p.half_width_m >= 0.0;
            if !finite || !ordered || !width_ok {
                return Err(PlaceError::BadExtent { id: p.id.clone() });
            }
        }
        items.sort_by(|a, b| b.km.total_cmp(&a.km));
        for (i, p) in items.iter().enumerate() {
            if items[..i].iter().any(|q| q.id == p.id) {
                return Err(PlaceError::DuplicateId { id: p.id.clone() });
            }
        }
        Ok(Places { items })
    }

    /// The built-in places of the Chongqing → Shanghai corridor (domain brief §1.1–§1.2).
    pub fn yangtze(datums: &Datums) -> Places {
        let items = builtin_places(datums);
        // The built-in table is valid by construction (checked by a test); fall back to
        // an empty set rather than panic if it ever is not.
        Places::new(items).unwrap_or_default()
    }

    /// All places, upstream first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (PlaceId, &Place)> + ExactSizeIterator {
        self.items
            .iter()
            .enumerate()
            .map(|(i, p)| (PlaceId(i as u32), p))
    }

    /// How many places there are.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The place with this index.
    pub fn get(&self, id: PlaceId) -> Option<&Place> {
        self.items.get(id.0 as usize)
    }

    /// The place with this string id.
    pub fn by_id(&self, id: &str) -> Option<(PlaceId, &Place)> {
        self.iter().find(|(_, p)| p.id == id)
    }

    /// The place whose extent contains `km`; when several do, the shortest (most specific) one,
    /// e.g. the ship lift inside the Three Gorges lock area.
    pub fn at_km(&self, km: f64) -> Option<(PlaceId, &Place)> {
        self.iter()
            .filter(|(_, p)| p.contains_km(km))
            .min_by(|a, b| a.1.length_km().total_cmp(&b.1.length_km()))
    }

    /// Like [`Places::at_km`] but also requires the position to be within the place's half-width
    /// of the centre line.
    pub fn at(&self, km: f64, offset_m: f64) -> Option<(PlaceId, &Place)> {
        self.iter()
            .filter(|(_, p)| p.contains(km, offset_m))
            .min_by(|a, b| a.1.length_km().total_cmp(&b.1.length_km()))
    }

    /// The place nearest to `km` along the river (distance to its extent; ties go to the
    /// shorter extent). Allocation-free.
    pub fn nearest(&self, km: f64) -> Option<NearestPlace> {
        let mut best: Option<(usize, f64, f64)> = None;
        for (i, p) in self.items.iter().enumerate() {
            let d = p.distance_km(km);
            let len = p.length_km();
            let better = match best {
                None => true,
                Some((_, bd, blen)) => d < bd || (d == bd && len < blen),
            };
            if better {
                best = Some((i, d, len));
            }
        }
        best.map(|(i, d, _)| NearestPlace {
            place: PlaceId(i as u32),
            distance_km: d,
        })
    }

    /// The first place strictly ahead of `km` in the direction of travel (by reference km)
    /// that `filter` accepts.
    pub fn next(
        &self,
        km: f64,
        direction: Direction,
        mut filter: impl FnMut(&Place) -> bool,
    ) -> Option<(PlaceId, &Place)> {
        match direction {
            Direction::Downstream => self.iter().find(|(_, p)| p.km < km && filter(p)),
            Direction::Upstream => self.iter().rev().find(|(_, p)| p.km > km && filter(p)),
        }
    }
}

fn builtin_places(d: &Datums) -> Vec<Place> {
    use PlaceKind::*;
    let u = |km: f64| d.to_unified(DatumKm::new(Datum::Upper, km));
    let m = |km: f64| d.to_unified(DatumKm::new(Datum::Middle, km));
    let l = |km: f64| d.to_unified(DatumKm::new(Datum::Lower, km));
    vec![
        // Ports and terminals (km from §1.1; extents inferred).
        Place::point(
            "chaotianmen-port",
            "Chongqing Chaotianmen port",
            "朝天门港",
            Port,
            u(660.0),
            1.5,
        ),
        Place::point("cuntan-port", "Cuntan port", "寸滩港", Port, u(652.0), 2.0),
        Place::point(
            "guoyuan-port",
            "Guoyuan port (ro-ro)",
            "果园港",
            Port,
            u(630.0),
            2.5,
        )
        .inferred(),
        Place::point("fuling-port", "Fuling port", "涪陵港", Port, u(544.0), 2.0).inferred(),
        Place::point(
            "zhongxian-xinsheng-port",
            "Zhongxian Xinsheng port",
            "忠县新生港",
            Port,
            u(437.0),
            2.0,
        ),
        Place::point("yichang-port", "Yichang port", "宜昌港", Port, u(3.0), 3.0).inferred(),
        Place::point(
            "jingzhou-port",
            "Jingzhou port",
            "荆州港",
            Port,
            m(478.0),
            3.0,
        )
        .inferred(),
        Place::point(
            "chenglingji-port",
            "Yueyang Chenglingji port",
            "城陵矶港",
            Port,
            m(230.0),
            3.0,
        )
        .inferred(),
        Place::point(
            "yangluo-port",
            "Wuhan Yangluo port",
            "阳逻港",
            Port,
            l(1005.0),
            3.0,
        )
        .inferred(),
        Place::point(
            "jiujiang-port",
            "Jiujiang port",
            "九江港",
            Port,
            l(810.0),
            3.0,
        )
        .inferred(),
        Place::point("wuhu-port", "Wuhu port", "芜湖港", Port, l(436.0), 3.0).inferred(),
        Place::point(
            "longtan-port",
            "Nanjing Longtan port",
            "龙潭港",
            Port,
            l(310.0),
            3.0,
        ),
        Place::point(
            "zhenjiang-port",
            "Zhenjiang port",
            "镇江港",
            Port,
            l(265.0),
            3.0,
        )
        .inferred(),
        Place::point(
            "nantong-port",
            "Nantong port",
            "南通港",
            Port,
            l(110.0),
            3.0,
        )
        .inferred(),
        Place::point(
            "taicang-port",
            "Taicang port (Haitong Taicang car terminal)",
            "太仓港",
            Port,
            l(50.0),
            4.0,
        )
        .inferred(),
        Place::point(
            "waigaoqiao-haitong",
            "Waigaoqiao Haitong International Automobile Terminal",
            "外高桥 海通码头",
            Port,
            l(-7.0),
            3.0,
        )
        .inferred(),
        // Dispatch: the plan-confirmation line at the Wanzhou Fuma bridge (§1.2).
        Place::point(
            "three-gorges-plan-line",
            "Three Gorges lock-plan confirmation line",
            "三峡船闸计划编制确认线",
            ControlLine,
            u(323.0),
            0.5,
        )
        .inferred(),
        // Dam area (§1.2): locks 6.4 km with approaches; extents and anchorages inferred.
        Place::area(
            "three-gorges-anchorages",
            "Three Gorges upstream waiting anchorages",
            "三峡坝上待闸锚地",
            Anchorage,
            u(75.0),
            u(49.0),
            2500.0,
        )
        .inferred(),
        Place::area(
            "three-gorges-locks",
            "Three Gorges double-line five-step locks",
            "三峡双线五级船闸",
            Lock,
            u(48.2),
            u(41.8),
            3000.0,
        )
        .inferred(),
        Place::area(
            "three-gorges-ship-lift",
            "Three Gorges ship lift",
            "三峡升船机",
            ShipLift,
            u(46.0),
            u(44.0),
            3000.0,
        )
        .inferred(),
        Place::area(
            "inter-dam-anchorage",
            "Anchorage between the two dams",
            "两坝间锚地",
            Anchorage,
            u(32.0),
            u(14.0),
            2500.0,
        )
        .inferred(),
        Place::area(
            "gezhouba-locks",
            "Gezhouba locks",
            "葛洲坝船闸",
            Lock,
            u(7.5),
            u(4.5),
            2500.0,
        )
        .inferred(),
        Place::area(
            "wusongkou-anchorage",
            "Wusongkou anchorage",
            "吴淞口锚地",
            Anchorage,
            l(4.0),
            l(-4.0),
            4000.0,
        )
        .inferred(),
        // Bridges.
        Place::point(
            "fengdu-bridge",
            "Fengdu Yangtze bridge",
            "丰都长江大桥",
            Bridge,
            u(489.0),
            0.5,
        ),
        Place::point(
            "wanzhou-fuma-bridge",
            "Wanzhou Fuma bridge",
            "万州驸马长江大桥",
            Bridge,
            u(323.0),
            0.5,
        )
        .inferred(),
        Place::point(
            "yunyang-bridge",
            "Yunyang bridge",
            "云阳长江大桥",
            Bridge,
            u(291.0),
            0.5,
        )
        .inferred(),
        Place::point(
            "shishou-bridge",
            "Shishou bridge",
            "石首长江大桥",
            Bridge,
            m(374.0),
            0.5,
        ),
        Place::point(
            "wuhan-bridge",
            "Wuhan Yangtze River Bridge",
            "武汉长江大桥",
            Bridge,
            m(0.0),
            0.5,
        ),
        Place::point(
            "wuhu-bridge",
            "Wuhu bridge",
            "芜湖长江大桥",
            Bridge,
            l(432.0),
            0.5,
        ),
        Place::point(
            "nanjing-bridge",
            "Nanjing Yangtze River Bridge",
            "南京长江大桥",
            Bridge,
            l(345.0),
            0.5,
        )
        .inferred(),
        Place::point(
            "jiangyin-bridge",
            "Jiangyin bridge",
            "江阴长江大桥",
            Bridge,
            l(155.0),
            0.5,
        )
        .inferred(),
        // Datum zeros and reach marks.
        Place::point(
            "miaohe",
            "Miaohe (head of the Three Gorges reach)",
            "庙河",
            Landmark,
            u(59.0),
            1.0,
        ),
        Place::point(
            "yichang-zhongshuimen",
            "Yichang Zhongshuimen (U 0)",
            "宜昌中水门",
            Landmark,
            u(0.0),
            1.0,
        ),
        Place::point(
            "wusongkou",
            "Wusongkou (L 0)",
            "吴淞口",
            Landmark,
            l(0.0),
            1.0,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_list_is_valid_and_ordered() {
        let d = Datums::default();
        let places = Places::new(builtin_places(&d)).unwrap();
        assert_eq!(places.len(), Places::yangtze(&d).len());
        let kms: Vec<f64> = places.iter().map(|(_, p)| p.km).collect();
        assert!(kms.windows(2).all(|w| w[0] >= w[1]));
        assert_eq!(places.by_id("wusongkou").unwrap().1.km, 0.0);
        assert_eq!(places.by_id("guoyuan-port").unwrap().1.km, 2296.0);
    }

    #[test]
    fn most_specific_place_wins() {
        let places = Places::yangtze(&Datums::default());
        let lift = places.at_km(1711.0).unwrap().1;
        assert_eq!(lift.kind, PlaceKind::ShipLift);
        let locks = places.at_km(1713.5).unwrap().1;
        assert_eq!(locks.kind, PlaceKind::Lock);
        assert_eq!(places.at_km(1730.0).unwrap().1.kind, PlaceKind::Anchorage);
        // Open river between Changshou and Fuling.
        assert!(places.at_km(2230.0).is_none());
        // Inside the km range but 5 km off the line: not in the port.
        assert!(places.at(2296.0, 5000.0).is_none());
        assert_eq!(places.at(2296.0, -800.0).unwrap().1.id, "guoyuan-port");
    }

    #[test]
    fn nearest_and_next() {
        let places = Places::yangtze(&Datums::default());
        let n = places.nearest(2230.0).unwrap();
        assert_eq!(places.get(n.place).unwrap().id, "fuling-port");
        assert!((n.distance_km - 18.0).abs() < 1e-9);
        let next = places
            .next(2296.0, Direction::Downstream, |p| p.kind == PlaceKind::Lock)
            .unwrap()
            .1;
        assert_eq!(next.id, "three-gorges-locks");
        let up = places
            .next(1711.0, Direction::Upstream, |p| p.kind == PlaceKind::Port)
            .unwrap()
            .1;
        assert_eq!(up.id, "zhongxian-xinsheng-port");
        assert!(places.next(-7.0, Direction::Downstream, |_| true).is_none());
    }

    #[test]
    fn bad_places_are_refused() {
        let mut p = Place::point("x", "x", "x", PlaceKind::Port, 10.0, 1.0);
        p.upstream_km = 9.0;
        assert_eq!(
            Places::new(vec![p]).unwrap_err(),
            PlaceError::BadExtent { id: "x".into() }
        );
        let a = Place::point("x", "x", "x", PlaceKind::Port, 10.0, 1.0);
        assert_eq!(
            Places::new(vec![a.clone(), a]).unwrap_err(),
            PlaceError::DuplicateId { id: "x".into() }
        );
        let nan = Place::point("n", "n", "n", PlaceKind::Port, f64::NAN, 1.0);
        assert!(Places::new(vec![nan]).is_err());
    }
}

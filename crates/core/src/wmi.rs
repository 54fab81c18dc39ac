//! World manufacturer identifiers (ISO 3780): positions 1–3 of a VIN → manufacturer.
//!
//! Reference data with provenance, not law: public WMI lists contradict each other. Chinese
//! entries follow the project's standards brief (§5), whose primary source is the `vininfo`
//! dictionary cross-checked against other lists; world makers are the long-assigned WMIs of
//! the major groups. Entries marked `verified: false` come from a single unattributed list.

use serde::Serialize;

/// A manufacturer as a WMI table names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Manufacturer {
    /// The three-character WMI.
    pub wmi: &'static str,
    /// Maker or joint venture, in English.
    pub name: &'static str,
    /// Country of the assignment (ISO 3166 alpha-2).
    pub country: &'static str,
    /// False where only one unattributed public list gives the assignment.
    pub verified: bool,
}

const fn m(wmi: &'static str, name: &'static str, country: &'static str) -> Manufacturer {
    Manufacturer {
        wmi,
        name,
        country,
        verified: true,
    }
}

const fn unverified(wmi: &'static str, name: &'static str, country: &'static str) -> Manufacturer {
    Manufacturer {
        wmi,
        name,
        country,
        verified: false,
    }
}

/// The table, sorted by WMI so lookups can binary-search (a unit test keeps it sorted).
pub static TABLE: &[Manufacturer] = &[
    m("1C3", "Chrysler", "US"),
    m("1C4", "Chrysler (Jeep/Dodge MPV)", "US"),
    m("1FA", "Ford", "US"),
    m("1FM", "Ford (MPV)", "US"),
    m("1FT", "Ford (truck)", "US"),
    m("1G1", "Chevrolet", "US"),
    m("1GC", "Chevrolet (truck)", "US"),
    m("1HG", "Honda (USA)", "US"),
    m("1M8", "Motor Coach Industries", "US"),
    m("1N4", "Nissan (USA)", "US"),
    m("2HG", "Honda (Canada)", "CA"),
    m("2T1", "Toyota (Canada)", "CA"),
    m("3FA", "Ford (Mexico)", "MX"),
    m("3VW", "Volkswagen (Mexico)", "MX"),
    m("4T1", "Toyota (USA)", "US"),
    m("5YJ", "Tesla", "US"),
    m("JHM", "Honda", "JP"),
    m("JM1", "Mazda", "JP"),
    m("JN1", "Nissan", "JP"),
    m("JT2", "Toyota", "JP"),
    m("JTD", "Toyota", "JP"),
    m("KL1", "GM Daewoo", "KR"),
    m("KMH", "Hyundai", "KR"),
    m("KNA", "Kia", "KR"),
    m("L6T", "Geely", "CN"),
    m("LB3", "Geely", "CN"),
    m("LBE", "Beijing Hyundai", "CN"),
    m("LBV", "BMW Brilliance", "CN"),
    m("LC0", "BYD", "CN"),
    m("LDC", "Dongfeng Peugeot-Citroën", "CN"),
    m("LE4", "Beijing Benz", "CN"),
    m("LFM", "FAW Toyota", "CN"),
    m("LFP", "FAW Car (Hongqi/Bestune)", "CN"),
    m("LFV", "FAW-Volkswagen", "CN"),
    m("LGB", "Dongfeng Nissan", "CN"),
    m("LGJ", "Dongfeng Fengshen", "CN"),
    m("LGW", "Great Wall / Haval", "CN"),
    m("LGX", "BYD Auto", "CN"),
    m("LH1", "FAW Haima", "CN"),
    m("LHG", "GAC Honda", "CN"),
    m("LJ1", "JAC", "CN"),
    m("LJD", "Dongfeng Yueda Kia", "CN"),
    m("LKL", "Suzhou King Long", "CN"),
    m("LLV", "Lifan (Chongqing)", "CN"),
    unverified("LM8", "Seres / AITO (Chongqing)", "CN"),
    m("LMG", "GAC Trumpchi", "CN"),
    m("LNB", "BAIC", "CN"),
    m("LPA", "Changan PSA (DS)", "CN"),
    m("LRB", "SAIC-GM Buick", "CN"),
    m("LRW", "Tesla (Shanghai)", "CN"),
    unverified("LS4", "Changan", "CN"),
    m("LS5", "Changan", "CN"),
    unverified("LS6", "Changan", "CN"),
    unverified("LSC", "Changan", "CN"),
    m("LSG", "SAIC General Motors", "CN"),
    m("LSJ", "SAIC MG", "CN"),
    m("LSV", "SAIC Volkswagen", "CN"),
    m("LTV", "FAW Toyota (Tianjin)", "CN"),
    m("LVG", "GAC Toyota", "CN"),
    m("LVH", "Dongfeng Honda", "CN"),
    m("LVR", "Changan Mazda", "CN"),
    m("LVS", "Changan Ford", "CN"),
    m("LVV", "Chery", "CN"),
    m("LVY", "Volvo", "CN"),
    m("LWV", "GAC Fiat", "CN"),
    m("LYV", "Volvo Cars China", "CN"),
    m("LZE", "Isuzu Guangzhou", "CN"),
    m("LZG", "Shaanxi Auto", "CN"),
    m("LZW", "SAIC-GM-Wuling", "CN"),
    m("LZY", "Yutong", "CN"),
    m("SAJ", "Jaguar", "GB"),
    m("SAL", "Land Rover", "GB"),
    m("TMB", "Škoda", "CZ"),
    m("VF1", "Renault", "FR"),
    m("VF3", "Peugeot", "FR"),
    m("VF7", "Citroën", "FR"),
    m("VSS", "SEAT", "ES"),
    m("WAU", "Audi", "DE"),
    m("WBA", "BMW", "DE"),
    m("WDB", "Mercedes-Benz", "DE"),
    m("WDD", "Mercedes-Benz", "DE"),
    m("WF0", "Ford (Germany)", "DE"),
    m("WMW", "MINI", "DE"),
    m("WP0", "Porsche", "DE"),
    m("WVW", "Volkswagen", "DE"),
    m("YV1", "Volvo Cars", "SE"),
    m("ZAR", "Alfa Romeo", "IT"),
    m("ZFA", "Fiat", "IT"),
];

/// The manufacturer assigned `wmi` (case-sensitive, upper-case), if the table has it.
pub fn lookup(wmi: &str) -> Option<&'static Manufacturer> {
    TABLE
        .binary_search_by(|e| e.wmi.cmp(wmi))
        .ok()
        .and_then(|i| TABLE.get(i))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_unique() {
        for pair in TABLE.windows(2) {
            assert!(
                pair[0].wmi < pair[1].wmi,
                "{} !< {}",
                pair[0].wmi,
                pair[1].wmi
            );
        }
        assert!(TABLE.iter().all(|e| e.wmi.len() == 3));
    }

    #[test]
    fn chongqing_makers() {
        assert_eq!(lookup("LS5").map(|m| m.name), Some("Changan"));
        assert_eq!(lookup("LVS").map(|m| m.name), Some("Changan Ford"));
        assert_eq!(lookup("LLV").map(|m| m.name), Some("Lifan (Chongqing)"));
        assert_eq!(lookup("LM8").map(|m| m.verified), Some(false));
        assert_eq!(lookup("XXX"), None);
    }
}

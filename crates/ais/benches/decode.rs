// placeholder so the workspace parses until the AIS decode benchmark lands
fn main() {}

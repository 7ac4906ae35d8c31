//! CPTED device placement (maximal covering location problem).

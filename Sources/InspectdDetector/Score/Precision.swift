/// What the detector's convolutions and linear layers compute in.
public enum Precision: String, Sendable, CaseIterable, Codable {
    case fp32, int8
}

/// Errors of the encoder networks (ECAPA-TDNN and CAM++: the name is historical).
public enum ECAPAError: Error, Equatable, CustomStringConvertible {
    case invalidConfig(String)
    case missingTensor(String)
    case wrongTensorSize(name: String, expected: Int, actual: Int)
    case nonFiniteWeights(String)
    case inputTooShort(frames: Int, minimum: Int)
    case wrongInputSize(expected: Int, actual: Int)
    case nonFiniteInput

    public var description: String {
        switch self {
        case .invalidConfig(let why):
            return "invalid encoder configuration: \(why)"
        case .missingTensor(let name):
            return "encoder weights: tensor '\(name)' is missing; the model file is incomplete — re-export or re-import it"
        case .wrongTensorSize(let name, let expected, let actual):
            return "encoder weights: tensor '\(name)' has \(actual) values, expected \(expected)"
        case .nonFiniteWeights(let name):
            return "encoder weights: tensor '\(name)' contains NaN or infinity; the model is broken"
        case .inputTooShort(let frames, let minimum):
            return "audio too short for the encoder: \(frames) feature frames, need at least \(minimum) (about \(minimum * 10) ms)"
        case .wrongInputSize(let expected, let actual):
            return "encoder input has \(actual) feature bins per frame, the model expects \(expected): front end and model do not match"
        case .nonFiniteInput:
            return "encoder input contains NaN or infinity"
        }
    }
}

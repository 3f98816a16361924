/// Which neighbours join ground-truth pixels into one defect region.
public enum Connectivity: Sendable {
    /// Edge neighbours only: diagonal-touching pixels are separate regions.
    case four
    /// Edge and corner neighbours: MVTec's reference evaluation labels regions
    /// with `scipy.ndimage.label(gt, np.ones((3, 3)))`, which is this.
    case eight
}

/// The connected components of a row-major `width` × `height` mask: a label per
/// pixel (0 outside the mask, components numbered from 1 in scan order) and
/// each component's pixel count (component k at index k − 1).
func connectedComponents(
    of mask: [Bool], width: Int, height: Int, connectivity: Connectivity
) -> (labels: [UInt32], sizes: [Int]) {
    var labels = [UInt32](repeating: 0, count: mask.count)
    var sizes: [Int] = []
    let offsets: [(dx: Int, dy: Int)] = switch connectivity {
    case .four: [(1, 0), (-1, 0), (0, 1), (0, -1)]
    case .eight: [(1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (1, -1), (-1, 1), (-1, -1)]
    }
    // Flood fill with an explicit stack: a defect can span the whole image, far
    // deeper than recursion could go.
    var stack: [Int] = []
    for seed in mask.indices where mask[seed] && labels[seed] == 0 {
        let label = UInt32(sizes.count + 1)
        var size = 0
        labels[seed] = label
        stack.append(seed)
        while let pixel = stack.popLast() {
            size += 1
            let x = pixel % width, y = pixel / width
            for (dx, dy) in offsets {
                let nx = x + dx, ny = y + dy
                guard nx >= 0, nx < width, ny >= 0, ny < height else { continue }
                let neighbour = ny * width + nx
                if mask[neighbour], labels[neighbour] == 0 {
                    labels[neighbour] = label
                    stack.append(neighbour)
                }
            }
        }
        sizes.append(size)
    }
    return (labels, sizes)
}

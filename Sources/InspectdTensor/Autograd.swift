/// Reverse-mode differentiation over a graph recorded while ops run.
///
/// An op that has at least one input with `tracksGradient` (and recording is on) attaches a
/// `Node` to its result: the inputs, and a closure that maps the gradient of the result to the
/// gradients of the inputs. The closure captures whatever the forward pass saved, as llm.c keeps
/// activations for its backward functions.
final class Node {
    let inputs: [Tensor]
    let backward: (Tensor) -> [Tensor?]

    init(inputs: [Tensor], backward: @escaping (Tensor) -> [Tensor?]) {
        self.inputs = inputs
        self.backward = backward
    }
}

public enum Autograd {
    /// Recording is on by default; scoring turns it off to save the graph's memory.
    @TaskLocal public static var isRecording = true

    /// Runs `body` without recording ops for autograd.
    public static func withoutRecording<R>(_ body: () throws -> R) rethrows -> R {
        try $isRecording.withValue(false, operation: body)
    }

    /// True when an op on these inputs must record a node.
    static func shouldRecord(_ inputs: [Tensor]) -> Bool {
        isRecording && inputs.contains { $0.tracksGradient }
    }

    /// Attaches a node to `result` when recording is due; returns `result`.
    static func record(_ result: Tensor, inputs: [Tensor], backward: @escaping (Tensor) -> [Tensor?]) -> Tensor {
        if shouldRecord(inputs) {
            result.node = Node(inputs: inputs, backward: backward)
        }
        return result
    }
}

extension Tensor {
    /// Back-propagates from this tensor (a scalar loss unless `seed` is given) and accumulates
    /// gradients into the `grad` of every leaf with `requiresGrad`. The graph is released on the way.
    public func backward(seed: Tensor? = nil) {
        let seed = seed ?? {
            precondition(count == 1, "backward() without a seed needs a one-element tensor, not \(shape)")
            return Tensor(repeating: 1, shape: shape)
        }()
        precondition(seed.shape == shape, "seed of shape \(seed.shape) for a tensor of shape \(shape)")

        // Topological order by iterative depth-first search (deep graphs would overflow recursion).
        var order: [Tensor] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(Tensor, Bool)] = [(self, false)]
        while let (tensor, expanded) = stack.popLast() {
            if expanded { order.append(tensor); continue }
            guard visited.insert(ObjectIdentifier(tensor)).inserted else { continue }
            stack.append((tensor, true))
            for input in tensor.node?.inputs ?? [] where input.tracksGradient && !visited.contains(ObjectIdentifier(input)) {
                stack.append((input, false))
            }
        }

        var pending: [ObjectIdentifier: Tensor] = [ObjectIdentifier(self): seed]
        for tensor in order.reversed() {
            guard let gradOut = pending.removeValue(forKey: ObjectIdentifier(tensor)) else { continue }
            guard let node = tensor.node else {
                if tensor.requiresGrad { tensor.accumulateGrad(gradOut) }
                continue
            }
            let gradsIn = Autograd.withoutRecording { node.backward(gradOut) }
            precondition(gradsIn.count == node.inputs.count, "backward returned \(gradsIn.count) gradients for \(node.inputs.count) inputs")
            for (input, grad) in zip(node.inputs, gradsIn) {
                guard let grad, input.tracksGradient else { continue }
                precondition(grad.shape == input.shape, "op gave a gradient of shape \(grad.shape) for an input of shape \(input.shape)")
                let key = ObjectIdentifier(input)
                if let existing = pending[key] {
                    existing.data.withUnsafeMutableBufferPointer { e in
                        grad.data.withUnsafeBufferPointer { g in
                            forEachContiguousRun(e.count) { i, n in
                                for j in i..<(i + n) { e[j] += g[j] }
                            }
                        }
                    }
                } else {
                    pending[key] = grad
                }
            }
            tensor.node = nil
        }
    }
}

//! Overlapping decode, inference and encode: three threads joined by bounded channels, so the model
//! never waits for I/O and at most `depth` items wait between two stages (memory stays bounded).

use std::sync::mpsc::sync_channel;

/// Runs `decode` on a background thread over `items` (in order), `infer` on the calling thread,
/// and `encode` on another background thread, each stage working on a different item at a time.
/// Items stay in order. `infer` returning `None` stops the pipeline (cancellation); the items
/// already inferred are still encoded. Returns the number of items `infer` handled.
pub fn pipeline<I, A, B>(
    items: I,
    depth: usize,
    decode: impl FnMut(I::Item) -> A + Send,
    mut infer: impl FnMut(A) -> Option<B>,
    encode: impl FnMut(B) + Send,
) -> usize
where
    I: IntoIterator,
    I::IntoIter: Send,
    A: Send,
    B: Send,
{
    let depth = depth.max(1);
    let (decoded_tx, decoded_rx) = sync_channel::<A>(depth);
    let (inferred_tx, inferred_rx) = sync_channel::<B>(depth);
    let items = items.into_iter();
    std::thread::scope(|scope| {
        let mut decode = decode;
        scope.spawn(move || {
            for item in items {
                // A closed receiver means inference stopped: stop decoding too.
                if decoded_tx.send(decode(item)).is_err() {
                    break;
                }
            }
        });
        let mut encode = encode;
        scope.spawn(move || {
            for item in inferred_rx {
                encode(item);
            }
        });
        let mut handled = 0;
        for decoded in decoded_rx.iter() {
            let Some(result) = infer(decoded) else {
                break;
            };
            handled += 1;
            if inferred_tx.send(result).is_err() {
                break;
            }
        }
        drop(inferred_tx);
        drop(decoded_rx);
        handled
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_and_overlaps() {
        let mut out = Vec::new();
        let n = pipeline(0..100, 2, |i| i * 2, |x| Some(x + 1), |y| out.push(y));
        assert_eq!(n, 100);
        assert_eq!(out, (0..100).map(|i| i * 2 + 1).collect::<Vec<_>>());
    }

    #[test]
    fn stops_when_infer_cancels() {
        let mut out = Vec::new();
        let n = pipeline(
            0..1000,
            2,
            |i| i,
            |x| (x < 10).then_some(x),
            |y| out.push(y),
        );
        assert_eq!(n, 10);
        assert_eq!(out, (0..10).collect::<Vec<_>>());
    }
}

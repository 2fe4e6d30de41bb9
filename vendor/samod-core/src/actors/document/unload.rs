use super::DocActorResult;

/// The answer of [`DocumentActor::unload`](super::DocumentActor::unload).
#[derive(Debug)]
pub enum Unload {
    /// The actor has stopped: handle the result (it reports `stopped`), then
    /// drop the actor.
    Unloaded(DocActorResult),
    /// Something keeps the document loaded, or it has not been idle long
    /// enough.
    InUse,
    /// Work is in flight (a storage write, a share policy check): try again
    /// shortly.
    Busy,
}

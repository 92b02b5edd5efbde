import { useApp, type GalleryView } from '../store';
import { usesCacheOf } from '../../runtime/pack';
import { withImageScaleEnd } from '../guidance-settings';

const SCHEDULER_LABEL = { ddim: 'DDIM', dpmpp2m: 'DPM++ 2M' } as const;

export function Gallery() {
  const gallery = useApp((s) => s.gallery);
  if (gallery.length === 0) {
    return (
      <section className="gallery-empty" data-testid="gallery-empty">
        <div className="empty-art" aria-hidden>
          ✦
        </div>
        <h2>No images yet</h2>
        <p>Write a prompt and press Generate. Add a subject on the left to put your own pet, toy or object in the scene.</p>
      </section>
    );
  }
  return (
    <section aria-label="Gallery">
      <div className="section-head">
        <h2>Gallery</h2>
        <span className="dim">{gallery.length} image{gallery.length === 1 ? '' : 's'}</span>
      </div>
      <ul className="gallery" data-testid="gallery">
        {[...gallery].reverse().map((item) => (
          <GalleryCard key={item.id} item={item} />
        ))}
      </ul>
    </section>
  );
}

function GalleryCard({ item }: { item: GalleryView }) {
  const deleteImage = useApp((s) => s.deleteImage);
  const loaded = useApp((s) => s.loaded);
  const otherPack = loaded !== null && (item.fingerprint ? !usesCacheOf(loaded, item.fingerprint) : item.packName !== loaded.manifest.name);
  const reuse = () => {
    const { setPrompt, updateSettings, selectSubject, subjects } = useApp.getState();
    setPrompt(item.prompt);
    updateSettings({ ...withImageScaleEnd(item.settings), seed: item.seed, randomizeSeed: false });
    const subject = subjects.find((s) => s.id === item.subjectId);
    if (item.subjectId === null) selectSubject(null);
    else if (subject && usesCacheOf(useApp.getState().loaded, subject.fingerprint)) selectSubject(item.subjectId);
  };
  return (
    <li className="card" data-testid="gallery-item" data-seed={item.seed}>
      <img src={item.url} alt={item.prompt || 'Generated image'} width={item.width} height={item.height} className="card-image" />
      <div className="card-body">
        <p className="card-prompt" title={item.prompt}>
          {item.prompt || <span className="dim">(no prompt)</span>}
        </p>
        <div className="card-tags">
          {item.subjectName && <span className="tag tag-accent">{item.subjectName}</span>}
          {otherPack && (
            <span className="tag" title="Made with another model pack" data-testid="gallery-pack">
              {item.packName}
            </span>
          )}
          <span className="tag">seed {item.seed}</span>
          <span className="tag">
            {item.settings.steps} × {SCHEDULER_LABEL[item.settings.scheduler]}
          </span>
        </div>
        <div className="card-actions">
          <a className="btn btn-ghost btn-small" href={item.url} download={`dreamcache-${item.seed}.png`} data-testid="download-image" title="Download as PNG">
            ⤓ PNG
          </a>
          <button className="btn btn-ghost btn-small" onClick={reuse} title="Use this prompt, seed and settings again">
            Reuse
          </button>
          <button className="icon-btn icon-btn-danger" onClick={() => void deleteImage(item.id)} aria-label="Delete image" title="Delete">
            ✕
          </button>
        </div>
      </div>
    </li>
  );
}

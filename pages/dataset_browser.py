"""Dataset browser: what the active data holds, digit by digit."""

import streamlit as st

from digitcnn.views import charts, gallery
from digitcnn.data import summary
from ui import drawings, navigation, paging, state
from ui.markup import literal

navigation.through_the_entry_point("pages/dataset_browser.py")  # before anything: see ui.navigation

SAMPLES_PER_PAGE = 40


@st.cache_data(show_spinner=False, max_entries=8)
def describe(fingerprint: str, _dataset):
    """The figures and tables of a dataset, computed once per dataset (its fingerprint is the
    cache key, so the arrays themselves need not be hashed)."""
    return {
        "overview": summary.overview(_dataset),
        "per_digit": summary.per_digit(_dataset),
        "statistics": summary.image_statistics(_dataset),
        "mean_images": summary.mean_images(_dataset),
    }


DRAWINGS_PER_ROW = 8


def my_drawings(digit: int) -> None:
    """The kept drawings of ``digit``, each with what the model answered and a Delete; Undo puts back the
    last one this session deleted."""
    from digitcnn.data import NOT_A_DIGIT
    from ui.reading import label_text

    st.subheader(f"Your drawings of {digit}, to delete one kept by mistake")
    st.download_button("Download all as a CSV (the tutorial's format)", drawings.my_drawings_csv(),
                       file_name="my-drawings.csv", mime="text/csv", icon=":material/download:",
                       help="To import a folder of pictures sorted into 0/ … 9/: python -m digitcnn drawings import")
    if (deleted := drawings.last_deleted()) is not None:
        st.button(f"Undo: put back the drawing of {label_text(deleted.label)} deleted last", icon=":material/undo:",
                  on_click=drawings.undo_delete)
    kept = drawings.drawing_store().drawings(drawings.writer(), digit)
    refused = drawings.drawing_store().counts(drawings.writer()).get(NOT_A_DIGIT, 0)
    st.caption(f"{len(kept)} kept as {digit} by {literal(drawings.writer_shown())}; {refused} kept as not a digit "
               "(not part of the data).")
    for start in range(0, len(kept), DRAWINGS_PER_ROW):
        for column, drawing in zip(st.columns(DRAWINGS_PER_ROW), kept[start : start + DRAWINGS_PER_ROW]):
            answered = "not a digit" if drawing.answer is None else drawing.answer
            column.image(gallery.enlarge(drawing.image, 3), caption=f"#{drawing.id}: read {answered}",
                         output_format="PNG")
            column.button("Delete", key=f"delete_{drawing.id}", on_click=drawings.delete_drawing, args=(drawing.id,))


def overview(dataset, facts) -> None:
    """What the data holds: its size, its images, how many of each digit, and the tutorial's tables."""
    st.subheader("The whole data")
    columns = st.columns(4)
    columns[0].metric("Images", f"{len(dataset):,}")
    columns[1].metric("Own test images", f"{facts['overview']['test images']:,}")
    columns[2].metric("Image size", facts["overview"]["image shape"])
    columns[3].metric("Pixel values", facts["overview"]["pixel values"])

    st.subheader("Images per digit")
    st.plotly_chart(charts.class_counts_bar(dataset.class_counts(), title=""), key="class_counts")
    with st.expander("Per digit: share, brightness, ink"):
        st.dataframe(facts["per_digit"].style.format({"share": "{:.1%}", "mean pixel value": "{:.1f}",
                                                      "mean ink pixels": "{:.0f}"}))

    st.subheader("The first rows, as in the tutorial's table")
    st.dataframe(summary.first_rows(dataset, 10), height=250)
    st.subheader("Descriptive statistics of the images")
    st.dataframe(facts["statistics"].style.format("{:.2f}"))


def samples(dataset) -> int:
    """The images of a picked digit, a page at a time, in order or shuffled, each opening its row below when
    clicked; returns the digit."""
    picker, pager, shuffler = st.columns([3, 2, 1], vertical_alignment="bottom")
    digit = picker.segmented_control("Digit", options=list(range(10)), default=0, key="browse_digit") or 0
    shuffler.button("Shuffle", icon=":material/shuffle:", on_click=state.next_browse_seed)
    indices = summary.indices_of_digit(dataset, digit, state.browse_seed())
    shown = paging.page_picker(indices, SAMPLES_PER_PAGE, pager, key=f"browse_page_{digit}")
    if len(shown):
        st.plotly_chart(charts.sample_grid(dataset.images[shown], shown, dataset.labels[shown]), key="samples",
                        on_select=lambda: state.open_sample("samples"), selection_mode="points",
                        config={"displayModeBar": False})
        st.caption(f"{len(indices):,} images of {digit}; rows {', '.join(map(str, shown[:5]))}, … "
                   "Click one to open its row below.")
    else:
        st.info(f"No images of {digit} in this data.")
    return digit


def any_row(dataset) -> None:
    """One image, picked by its row or by a click on a sample above, large and as pixel values."""
    st.subheader("Any row by its index")
    st.caption("The tutorial looks at rows 6 and 10.")
    row = st.number_input("Row index", min_value=0, max_value=len(dataset) - 1, value=min(6, len(dataset) - 1),
                          key=state.BROWSE_ROW)
    image_column, heat_column = st.columns([1, 2])
    image_column.image(gallery.enlarge(dataset.images[row], 8), caption=f"row {row}: label {dataset.labels[row]}",
                       output_format="PNG")
    heat_column.plotly_chart(charts.pixel_heatmap(dataset.images[row], "Pixel values (hover to read)"),
                             key="row_pixels")


def mean_images(facts) -> None:
    st.subheader("What each digit looks like on average")
    st.image(gallery.montage(facts["mean_images"] / 255.0, columns=10, scale=4), caption="Mean image of 0, 1, …, 9",
             output_format="PNG")


dataset = state.active_dataset()
facts = describe(dataset.fingerprint, dataset)
st.title("Dataset browser")
if error := drawings.delete_error():  # here, not beside the drawings: the last of them may have gone with it
    st.warning(literal(error), icon=":material/warning:")
st.caption(f"Source: {literal(dataset.source)}")
digit = samples(dataset)
any_row(dataset)
if state.active_source() == state.MY_DRAWINGS:
    my_drawings(digit)
overview(dataset, facts)
mean_images(facts)

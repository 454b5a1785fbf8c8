"""What people look at, without Streamlit: the Plotly figures and the pictures of digits the pages and the
benchmarks show."""
